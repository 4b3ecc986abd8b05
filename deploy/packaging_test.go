package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// repoRoot is where package sources are resolved from, as nfpm and
// goreleaser both run from the repository root.
const repoRoot = ".."

// binaryPath is where both packages install the netmon binary.
const binaryPath = "/usr/bin/netmon"

// content is one entry of a package's contents list, in the shape nfpm and
// goreleaser share.
type content struct {
	Src      string `yaml:"src"`
	Dst      string `yaml:"dst"`
	Type     string `yaml:"type"`
	Packager string `yaml:"packager"`
	Expand   bool   `yaml:"expand"`
	FileInfo struct {
		Mode string `yaml:"mode"`
	} `yaml:"file_info"`
}

// scripts names the package maintainer scripts.
type scripts struct {
	PostInstall string `yaml:"postinstall"`
	PreRemove   string `yaml:"preremove"`
	PostRemove  string `yaml:"postremove"`
}

// PackageMeta holds the fields nfpm and goreleaser spell the same way.
type PackageMeta struct {
	Release     string    `yaml:"release"`
	Changelog   string    `yaml:"changelog"`
	Section     string    `yaml:"section"`
	Priority    string    `yaml:"priority"`
	Maintainer  string    `yaml:"maintainer"`
	Vendor      string    `yaml:"vendor"`
	Homepage    string    `yaml:"homepage"`
	License     string    `yaml:"license"`
	Description string    `yaml:"description"`
	Contents    []content `yaml:"contents"`
	Scripts     scripts   `yaml:"scripts"`
}

// nfpmConfig is the part of deploy/nfpm.yaml that defines the package.
type nfpmConfig struct {
	Name        string `yaml:"name"`
	PackageMeta `yaml:",inline"`
	Depends     []string `yaml:"depends"`
	Overrides   struct {
		Deb struct {
			Scripts scripts `yaml:"scripts"`
		} `yaml:"deb"`
		RPM struct {
			Depends []string `yaml:"depends"`
		} `yaml:"rpm"`
	} `yaml:"overrides"`
}

// goreleaserConfig is the part of .goreleaser.yaml that defines the builds
// and the packages.
type goreleaserConfig struct {
	Builds []struct {
		ID      string   `yaml:"id"`
		Binary  string   `yaml:"binary"`
		Env     []string `yaml:"env"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
		Goarm   []string `yaml:"goarm"`
		Flags   []string `yaml:"flags"`
		Ldflags []string `yaml:"ldflags"`
	} `yaml:"builds"`
	Archives []struct {
		Files []string `yaml:"files"`
	} `yaml:"archives"`
	NFPMs []struct {
		IDs          []string `yaml:"ids"`
		PackageName  string   `yaml:"package_name"`
		Formats      []string `yaml:"formats"`
		Bindir       string   `yaml:"bindir"`
		PackageMeta  `yaml:",inline"`
		Dependencies []string `yaml:"dependencies"`
		Overrides    struct {
			Deb struct {
				Scripts scripts `yaml:"scripts"`
			} `yaml:"deb"`
			RPM struct {
				Dependencies []string `yaml:"dependencies"`
			} `yaml:"rpm"`
		} `yaml:"overrides"`
	} `yaml:"nfpms"`
	Before struct {
		Hooks []string `yaml:"hooks"`
	} `yaml:"before"`
}

// pkgSpec is a package definition in a form both files can be reduced to.
type pkgSpec struct {
	Name                string
	Binary              string
	Depends, RPMDepends []string
	DebScripts          scripts
	PackageMeta
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

func loadNFPM(t *testing.T) nfpmConfig {
	t.Helper()
	var c nfpmConfig
	readYAML(t, "nfpm.yaml", &c)
	return c
}

func loadGoreleaser(t *testing.T) goreleaserConfig {
	t.Helper()
	var c goreleaserConfig
	readYAML(t, filepath.Join(repoRoot, ".goreleaser.yaml"), &c)
	if len(c.Builds) != 1 || len(c.NFPMs) != 1 {
		t.Fatalf(".goreleaser.yaml: want 1 build and 1 nfpms entry, got %d and %d", len(c.Builds), len(c.NFPMs))
	}
	return c
}

// nfpmSpec reduces deploy/nfpm.yaml, taking the binary out of the contents
// because goreleaser adds it by itself.
func nfpmSpec(t *testing.T, c nfpmConfig) pkgSpec {
	t.Helper()
	s := pkgSpec{Name: c.Name, Depends: c.Depends, RPMDepends: c.Overrides.RPM.Depends, DebScripts: c.Overrides.Deb.Scripts, PackageMeta: c.PackageMeta}
	s.Contents = nil
	for _, f := range c.Contents {
		if f.Dst == binaryPath {
			s.Binary = f.Dst
			continue
		}
		s.Contents = append(s.Contents, f)
	}
	return s
}

func goreleaserSpec(c goreleaserConfig) pkgSpec {
	n := c.NFPMs[0]
	return pkgSpec{
		Name:        n.PackageName,
		Binary:      n.Bindir + "/" + c.Builds[0].Binary,
		Depends:     n.Dependencies,
		RPMDepends:  n.Overrides.RPM.Dependencies,
		DebScripts:  n.Overrides.Deb.Scripts,
		PackageMeta: n.PackageMeta,
	}
}

func byDst(a, b content) int { return strings.Compare(a.Dst, b.Dst) }

// TestGoreleaserMirrorsNFPM is the sync check between the source of truth
// (deploy/nfpm.yaml) and the goreleaser nfpms section.
func TestGoreleaserMirrorsNFPM(t *testing.T) {
	want := nfpmSpec(t, loadNFPM(t))
	got := goreleaserSpec(loadGoreleaser(t))
	if want.Binary != binaryPath {
		t.Errorf("deploy/nfpm.yaml: no content with dst %s", binaryPath)
	}
	if diff := cmp.Diff(want, got, cmp.Transformer("sortContents", func(cs []content) []content {
		return slices.SortedFunc(slices.Values(cs), byDst)
	})); diff != "" {
		t.Errorf(".goreleaser.yaml nfpms differs from deploy/nfpm.yaml (-nfpm +goreleaser):\n%s", diff)
	}
}

// TestGoreleaserBuilds checks the release build settings the packages and
// `netmon --version` rely on.
func TestGoreleaserBuilds(t *testing.T) {
	c := loadGoreleaser(t)
	b := c.Builds[0]
	tests := []struct {
		name      string
		got, want []string
	}{
		{name: "static build", got: b.Env, want: []string{"CGO_ENABLED=0"}},
		{name: "linux only", got: b.Goos, want: []string{"linux"}},
		{name: "architectures modernc.org/sqlite supports", got: b.Goarch, want: []string{"amd64", "arm64", "arm"}},
		{name: "arm v7", got: b.Goarm, want: []string{"7"}},
		{name: "trimpath", got: b.Flags, want: []string{"-trimpath"}},
		{name: "package formats", got: c.NFPMs[0].Formats, want: []string{"deb", "rpm"}},
		{name: "package built from the release build", got: c.NFPMs[0].IDs, want: []string{b.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	ldflags := strings.Join(b.Ldflags, " ")
	for _, flag := range []string{"-s", "-w", "-X main.version={{ .Version }}", "-X main.commit={{ .Commit }}", "-X main.date={{ .Date }}"} {
		if !strings.Contains(ldflags, flag) {
			t.Errorf("ldflags %q: missing %q", ldflags, flag)
		}
	}
}

// TestArchiveFiles checks that the archives carry what the issue asks for
// and that each entry matches files in the repository.
func TestArchiveFiles(t *testing.T) {
	c := loadGoreleaser(t)
	if len(c.Archives) != 1 {
		t.Fatalf("want 1 archive, got %d", len(c.Archives))
	}
	got := c.Archives[0].Files
	want := []string{"README.md", "LICENSE", "configs/netmon.yaml", "deploy/README.md", "deploy/nfpm.yaml", "deploy/*/*"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive files (-want +got):\n%s", diff)
	}
	for _, pattern := range got {
		matches, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil || len(matches) == 0 {
			t.Errorf("archive file %s: matches nothing in the repository (%v)", pattern, err)
		}
	}
}

// TestPackageSourcesExist fails when the package names a file that is not in
// the repository, or a maintainer script that is not executable.
func TestPackageSourcesExist(t *testing.T) {
	c := loadNFPM(t)
	for _, f := range c.Contents {
		if f.Expand {
			continue // the binary, built by the caller
		}
		if strings.HasPrefix(f.Src, "build/docs/") {
			continue // generated by `netmon gen-docs build/docs` (TestGeneratedDocsPackaged)
		}
		t.Run(f.Dst, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(repoRoot, f.Src)); err != nil {
				t.Errorf("source of %s: %v", f.Dst, err)
			}
		})
	}
	deb := c.Overrides.Deb.Scripts
	for _, s := range []string{c.Scripts.PostInstall, c.Scripts.PreRemove, c.Scripts.PostRemove, deb.PostInstall, deb.PreRemove, deb.PostRemove} {
		t.Run(s, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(repoRoot, s))
			if err != nil {
				t.Fatalf("maintainer script: %v", err)
			}
			if fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("maintainer script %s: not executable (mode %v)", s, fi.Mode())
			}
		})
	}
}

// TestPackagedFiles pins where the package puts each kind of file.
func TestPackagedFiles(t *testing.T) {
	c := loadNFPM(t)
	got := map[string]string{}
	for _, f := range c.Contents {
		got[f.Dst] = f.Type
	}
	tests := []struct {
		name, dst, typ string
	}{
		{name: "binary", dst: binaryPath, typ: ""},
		{name: "config kept on upgrade", dst: "/etc/netmon/netmon.yaml", typ: "config|noreplace"},
		{name: "sysctl file", dst: "/usr/lib/sysctl.d/90-netmon.conf", typ: ""},
		{name: "modules-load file", dst: "/usr/lib/modules-load.d/netmon.conf", typ: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, ok := got[tt.dst]
			if !ok {
				t.Fatalf("%s not in the package", tt.dst)
			}
			if typ != tt.typ {
				t.Errorf("%s: type %q, want %q", tt.dst, typ, tt.typ)
			}
		})
	}
}

// TestGeneratedDocsPackaged checks that the package installs what `netmon
// gen-docs` writes (cmd/netmon/gendocs.go) where Debian looks for it, and
// that goreleaser generates it before packaging.
func TestGeneratedDocsPackaged(t *testing.T) {
	got := map[string]string{}
	for _, f := range loadNFPM(t).Contents {
		if strings.HasPrefix(f.Src, "build/docs/") {
			got[f.Src] = f.Dst
		}
	}
	want := map[string]string{
		"build/docs/man/*.1.gz":              "/usr/share/man/man1/",
		"build/docs/completions/netmon.bash": "/usr/share/bash-completion/completions/netmon",
		"build/docs/completions/_netmon":     "/usr/share/zsh/vendor-completions/_netmon",
		"build/docs/completions/netmon.fish": "/usr/share/fish/vendor_completions.d/netmon.fish",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("generated files in the package (-want +got):\n%s", diff)
	}
	if hooks := loadGoreleaser(t).Before.Hooks; !slices.Contains(hooks, "go run ./cmd/netmon gen-docs build/docs") {
		t.Errorf("goreleaser before hooks %q do not generate build/docs", hooks)
	}
}

// TestDebianFiles checks the files lintian asks for: a machine-readable
// copyright naming the licence, the override for the static binary with
// its reason, a maintainer with an e-mail address, a changelog.
func TestDebianFiles(t *testing.T) {
	c := loadNFPM(t)
	if !regexp.MustCompile(`^[^<>]+ <[^@<>\s]+@[^@<>\s]+\.[a-z]+>$`).MatchString(c.Maintainer) {
		t.Errorf("maintainer %q: want \"Name <address>\"", c.Maintainer)
	}
	if c.Release == "" || c.Changelog == "" {
		t.Errorf("release %q, changelog %q: the .deb needs both (changelog.Debian.gz)", c.Release, c.Changelog)
	}
	copyright, err := os.ReadFile(filepath.Join("debian", "copyright"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/", "License: Apache-2.0", "/usr/share/common-licenses/Apache-2.0"} {
		if !strings.Contains(string(copyright), want) {
			t.Errorf("debian/copyright lacks %q", want)
		}
	}
	if !strings.Contains(c.License, "Apache-2.0") {
		t.Errorf("license %q disagrees with debian/copyright", c.License)
	}
	overrides, err := os.ReadFile(filepath.Join("debian", "netmon.lintian-overrides"))
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, l := range strings.Split(string(overrides), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			tags = append(tags, l)
		}
	}
	if diff := cmp.Diff([]string{"netmon: statically-linked-binary [usr/bin/netmon]"}, tags); diff != "" {
		t.Errorf("lintian overrides (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(overrides), "CGO_ENABLED=0") {
		t.Error("the override does not say why")
	}
}

// TestDebScriptsUseHelpers: Debian maintainer scripts start, stop and
// enable units through deb-systemd-helper and deb-systemd-invoke; only
// daemon-reload may call systemctl (lintian's rule, and its pattern).
func TestDebScriptsUseHelpers(t *testing.T) {
	calls := regexp.MustCompile(`^(?:.+;)?\s*systemctl\b`)
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(filepath.Join("scripts", "deb", name))
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "#") {
				continue
			}
			if calls.MatchString(l) && !strings.Contains(l, "daemon-reload") {
				t.Errorf("deb/%s:%d calls systemctl: %s", name, i+1, l)
			}
		}
	}
}
