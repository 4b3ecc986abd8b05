package deploy

import (
	"os"
	"path/filepath"
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
			RPM struct {
				Dependencies []string `yaml:"dependencies"`
			} `yaml:"rpm"`
		} `yaml:"overrides"`
	} `yaml:"nfpms"`
}

// pkgSpec is a package definition in a form both files can be reduced to.
type pkgSpec struct {
	Name                string
	Binary              string
	Depends, RPMDepends []string
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
	s := pkgSpec{Name: c.Name, Depends: c.Depends, RPMDepends: c.Overrides.RPM.Depends, PackageMeta: c.PackageMeta}
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
		t.Run(f.Dst, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(repoRoot, f.Src)); err != nil {
				t.Errorf("source of %s: %v", f.Dst, err)
			}
		})
	}
	for _, s := range []string{c.Scripts.PostInstall, c.Scripts.PreRemove, c.Scripts.PostRemove} {
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
