package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/netmon-dev/netmon/pkg/config"
)

// defaultConfigFile is read when --config is not given and it exists.
const defaultConfigFile = "/etc/netmon/netmon.yaml"

// flagKeyExceptions are the flags whose configuration key is not their
// name with '-' turned into '_'. Every other flag whose name turns into a
// key of config.Config sets that key; the rest (--config, print-outbound's
// --top and --output) belong to their command. TestFlagsMapToConfig walks
// every command so a new flag cannot miss its key unnoticed.
var flagKeyExceptions = map[string]string{
	"db":         "db_path",
	"interfaces": "monitor_interfaces",
}

// flagKey returns the configuration key the flag name sets and whether
// keys (the mapstructure keys of config.Config) has it.
func flagKey(name string, keys map[string]any) (string, bool) {
	key, ok := flagKeyExceptions[name]
	if !ok {
		key = strings.ReplaceAll(name, "-", "_")
	}
	_, ok = keys[key]
	return key, ok
}

// envAliases are environment variables accepted besides NETMON_<KEY>.
var envAliases = map[string][]string{
	"db_path":            {"NETMON_DB"},
	"input_file":         {"CONNTRACK_INPUT_FILE"},
	"monitor_interfaces": {"NETMON_INTERFACES"},
}

// loadConfig builds the configuration once: flags that were set, then the
// environment, then the YAML file (file, or fallback when it exists), then
// config.Default(). The result is validated; every error is one line
// naming the key, the value and where it was set (a *config.FieldError),
// or the file and the line for a file that is not YAML.
func loadConfig(flags *pflag.FlagSet, file, fallback string) (config.Config, error) {
	v := viper.New()
	def := config.Default()
	keys := keyValues(def)
	for key, val := range keys {
		v.SetDefault(key, val)
	}
	v.SetEnvPrefix("NETMON")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	for key, aliases := range envAliases {
		// The canonical name first, so it wins over an alias.
		names := append([]string{key, "NETMON_" + strings.ToUpper(key)}, aliases...)
		if err := v.BindEnv(names...); err != nil {
			return def, err
		}
	}
	if flags != nil {
		// A command binds only the flags it has.
		var bindErr error
		flags.VisitAll(func(f *pflag.Flag) {
			if key, ok := flagKey(f.Name, keys); ok && bindErr == nil {
				bindErr = v.BindPFlag(key, f)
			}
		})
		if bindErr != nil {
			return def, fmt.Errorf("bind flags: %w", bindErr)
		}
	}

	if file == "" && fallback != "" {
		if _, err := os.Stat(fallback); err == nil {
			file = fallback
		}
	}
	var inFile map[string]any
	if file != "" {
		var err error
		if inFile, err = readYAML(file, keys); err != nil {
			return def, err
		}
		v.SetConfigType("yaml")
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return def, fmt.Errorf("read %s: %w", file, unwrapPathError(err))
		}
	}
	src := sources{flags: flags, file: file, inFile: inFile}

	if err := checkScalars(v, src); err != nil {
		return def, err
	}
	var c config.Config
	if err := v.UnmarshalExact(&c); err != nil {
		return def, oneLine(err)
	}
	// Comma lists in one item (a YAML string, a repeated flag) are split too.
	c.LocalSubnets = splitList(c.LocalSubnets)
	c.MonitorInterfaces = splitList(c.MonitorInterfaces)
	c.AllowedHosts = splitList(c.AllowedHosts)
	c.AllowFrom = splitList(c.AllowFrom)
	c.PasswordFile = besideConfig(c.PasswordFile, file, "passwd")
	c.APITokenFile = besideConfig(c.APITokenFile, file, "api-token")
	if err := c.Validate(); err != nil {
		var fe *config.FieldError
		if errors.As(err, &fe) {
			fe.Source = src.of(fe.Key)
		}
		return c, err
	}
	return c, nil
}

// besideConfig resolves a file setting: empty means name in the
// configuration file's directory (none without a configuration file), a
// relative path is relative to that directory.
func besideConfig(path, configFile, name string) string {
	switch {
	case path == "" && configFile == "":
		return ""
	case path == "":
		return filepath.Join(filepath.Dir(configFile), name)
	case filepath.IsAbs(path) || configFile == "":
		return path
	}
	return filepath.Join(filepath.Dir(configFile), path)
}

// readYAML reads file's keys and refuses one that is no setting,
// suggesting the nearest key. A block of keys (alerts:) is checked key by
// key ("alerts.learning_period").
func readYAML(file string, keys map[string]any) (map[string]any, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, unwrapPathError(err))
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not YAML: %s", file, strings.TrimPrefix(oneLine(err).Error(), "yaml: "))
	}
	if err := unknownKey(m, "", keys); err != nil {
		err.Source = file
		return nil, err
	}
	return m, nil
}

// unknownKey returns the error of the first key of m (under prefix) that
// is no setting, nil when every one is.
func unknownKey(m map[string]any, prefix string, keys map[string]any) *config.FieldError {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key := prefix + k
		if _, ok := keys[key]; ok {
			continue
		}
		if sub, ok := m[k].(map[string]any); ok && hasBlock(keys, key) {
			if err := unknownKey(sub, key+".", keys); err != nil {
				return err
			}
			continue
		}
		reason := "is not a setting"
		if near := nearestKey(key, keys); near != "" {
			reason += "; did you mean " + near + "?"
		}
		return &config.FieldError{Key: key, Reason: reason}
	}
	return nil
}

// hasBlock reports whether key is a block of keys (some key starts with
// key + ".").
func hasBlock(keys map[string]any, key string) bool {
	for k := range keys {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// nearestKey is the key closest to k in edit distance, if it is close
// enough to be a typo.
func nearestKey(k string, keys map[string]any) string {
	best, bestD := "", 0
	for _, cand := range slices.Sorted(maps.Keys(keys)) {
		if d := editDistance(k, cand); best == "" || d < bestD {
			best, bestD = cand, d
		}
	}
	if bestD > max(2, len(k)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sources says where a key's value came from, for error messages.
type sources struct {
	flags  *pflag.FlagSet
	file   string
	inFile map[string]any
}

// of names the flag, environment variable or file that set key, or ""
// for the default.
func (s sources) of(key string) string {
	if s.flags != nil {
		name := ""
		s.flags.VisitAll(func(f *pflag.Flag) {
			if k, ok := flagKey(f.Name, map[string]any{key: nil}); ok && k == key && f.Changed {
				name = "--" + f.Name
			}
		})
		if name != "" {
			return name
		}
	}
	for _, env := range append([]string{"NETMON_" + strings.ToUpper(key)}, envAliases[key]...) {
		if _, ok := os.LookupEnv(env); ok {
			return env
		}
	}
	if _, ok := s.inFile[key]; ok {
		return s.file
	}
	return ""
}

// checkScalars parses every duration, integer and boolean setting that
// arrived as text (or, for a duration, as a bare YAML number), so a bad
// value gets an error naming the key and the value instead of the
// decoder's generic message, and a duration without a unit is never read
// as nanoseconds.
func checkScalars(v *viper.Viper, src sources) error {
	rt := reflect.TypeFor[config.Config]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		key := f.Tag.Get("mapstructure")
		raw := v.Get(key)
		if f.Type == reflect.TypeFor[time.Duration]() {
			if _, ok := raw.(time.Duration); ok {
				continue // the default, or a flag pflag has parsed
			}
			if err := durationProblem(key, fmt.Sprint(raw)); err != nil {
				err.Source = src.of(key)
				return err
			}
			continue
		}
		s, ok := raw.(string)
		if !ok {
			continue
		}
		var err error
		reason := ""
		switch f.Type.Kind() {
		case reflect.Int:
			_, err = strconv.Atoi(s)
			reason = "not a whole number"
		case reflect.Bool:
			_, err = strconv.ParseBool(s)
			reason = "not true or false"
		case reflect.Float64:
			_, err = strconv.ParseFloat(s, 64)
			reason = "not a number (like 0.1)"
		}
		if err != nil {
			return &config.FieldError{Key: key, Value: s, Reason: reason, Source: src.of(key)}
		}
	}
	return nil
}

// durationProblem says what is wrong with s as the duration key, or nil.
// A bare number is refused rather than read as nanoseconds.
func durationProblem(key, s string) *config.FieldError {
	s = strings.TrimSpace(s)
	if _, err := time.ParseDuration(s); err == nil {
		return nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return &config.FieldError{Key: key, Reason: s + " has no unit; write " + s + "s"}
	}
	return &config.FieldError{Key: key, Value: s, Reason: "not a duration (like 1s, 5m, 168h)"}
}

// keyValues lists the fields of c by their mapstructure key. A block of
// keys (a struct field, like alerts) gives one key per field of its own
// ("alerts.learning_period"), so that a file setting only some of them
// keeps the defaults of the others.
func keyValues(c config.Config) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, rv reflect.Value)
	walk = func(prefix string, rv reflect.Value) {
		rt := rv.Type()
		for i := range rt.NumField() {
			key := rt.Field(i).Tag.Get("mapstructure")
			switch {
			case key == "":
			case rv.Field(i).Kind() == reflect.Struct:
				walk(prefix+key+".", rv.Field(i))
			default:
				out[prefix+key] = rv.Field(i).Interface()
			}
		}
	}
	walk("", reflect.ValueOf(c))
	return out
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// oneLine turns a multi-line decoding error into a single line that still
// names the key.
func oneLine(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "decoding failed due to the following error(s):")
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "*"))
		if l != "" {
			parts = append(parts, l)
		}
	}
	return errors.New(strings.Join(parts, "; "))
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
