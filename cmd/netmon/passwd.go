package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/netmon-dev/netmon/pkg/config"
)

// Password rules of `netmon passwd`.
const (
	minPassword = 8
	maxPassword = 72 // bcrypt reads no further
	// secretMode: root and the netmon group (the services) may read.
	secretMode = 0o640
)

// passwdOptions are the flags of `netmon passwd`.
type passwdOptions struct {
	stdin    bool // read the password from standard input
	apiToken bool // write a new API token instead
}

func newPasswdCmd(load loader) *cobra.Command {
	var opts passwdOptions
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Set the dashboard's login password, or make a new API token",
		Long: `Set the password of the dashboard's login: netmon asks for it twice (or
reads one line from standard input with --stdin) and writes its bcrypt hash
to password_file (default: passwd beside the configuration file, so
/etc/netmon/passwd for the packaged one). Login is on while that file
exists; there is no default password. Restart netmon-web (or netmon) for a
new password to apply; delete the file to turn the login off.

With --api-token, netmon writes a new random read-only token to
api_token_file (default: api-token beside the configuration file) and
prints it once. With login on, /metrics, /healthz and the JSON endpoints
accept it as "Authorization: Bearer TOKEN" (Prometheus: authorization:
credentials_file).

Both files are written mode 0640, group netmon when that group exists.`,
		Example: `  sudo netmon passwd
  echo 'a long passphrase' | sudo netmon passwd --stdin
  sudo netmon passwd --api-token`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			if opts.apiToken {
				return runAPIToken(cfg, cmd.OutOrStdout())
			}
			read := readPasswordTerminal
			if opts.stdin || !term.IsTerminal(int(os.Stdin.Fd())) {
				read = readPasswordLine(cmd.InOrStdin())
			}
			return runPasswd(cfg, read, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&opts.stdin, "stdin", false, "read the password from standard input (one line)")
	cmd.Flags().BoolVar(&opts.apiToken, "api-token", false, "write a new random API token to api_token_file and print it")
	cmd.Flags().String("password-file", "", "where the password hash goes (default: passwd beside the configuration file)")
	cmd.Flags().String("api-token-file", "", "where the API token goes (default: api-token beside the configuration file)")
	return cmd
}

// readPassword asks for the password (prompt says which time).
type readPassword func(prompt string) (string, error)

// readPasswordTerminal reads from the terminal without echo.
func readPasswordTerminal(prompt string) (string, error) {
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return string(b), err
}

// readPasswordLine reads one line of r, once: the confirmation is the
// same line.
func readPasswordLine(r io.Reader) readPassword {
	var line *string
	return func(string) (string, error) {
		if line == nil {
			s, err := bufio.NewReader(r).ReadString('\n')
			if err != nil && (err != io.EOF || s == "") {
				return "", fmt.Errorf("read password: %w", err)
			}
			s = strings.TrimRight(s, "\r\n")
			line = &s
		}
		return *line, nil
	}
}

// runPasswd reads the password twice and writes its hash.
func runPasswd(cfg config.Config, read readPassword, w io.Writer) error {
	if cfg.PasswordFile == "" {
		return configError{&config.FieldError{Key: "password_file", Reason: "not set and no configuration file to put it beside; give --config or password_file"}}
	}
	pw, err := read("New dashboard password: ")
	if err != nil {
		return err
	}
	again, err := read("Again: ")
	if err != nil {
		return err
	}
	switch {
	case pw != again:
		return errors.New("the two passwords differ; nothing written")
	case len(pw) < minPassword:
		return fmt.Errorf("password shorter than %d characters; nothing written", minPassword)
	case len(pw) > maxPassword:
		return fmt.Errorf("password longer than %d bytes (bcrypt reads no further); nothing written", maxPassword)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	if err := writeSecret(cfg.PasswordFile, append(hash, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(w, "netmon: wrote the password hash to %s; restart netmon-web (or netmon) to apply it\n", cfg.PasswordFile)
	return nil
}

// runAPIToken writes a new random token and prints it.
func runAPIToken(cfg config.Config, w io.Writer) error {
	if cfg.APITokenFile == "" {
		return configError{&config.FieldError{Key: "api_token_file", Reason: "not set and no configuration file to put it beside; give --config or api_token_file"}}
	}
	var raw [32]byte
	rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := writeSecret(cfg.APITokenFile, []byte(tok+"\n")); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n", tok)
	return err
}

// writeSecret replaces path with data, mode secretMode, group netmon when
// it exists (the services run as netmon), through a temporary file so a
// reader never sees half of it.
func writeSecret(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(secretMode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if g, err := user.LookupGroup("netmon"); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			_ = tmp.Chown(-1, gid) // only root may; others keep their group
		}
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
