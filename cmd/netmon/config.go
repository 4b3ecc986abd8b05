package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

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
// config.Default(). The result is validated.
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

	v.SetConfigType("yaml")
	switch {
	case file != "":
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return def, fmt.Errorf("read %s: %w", file, unwrapPathError(err))
		}
	case fallback != "":
		if _, err := os.Stat(fallback); err == nil {
			v.SetConfigFile(fallback)
			if err := v.ReadInConfig(); err != nil {
				return def, fmt.Errorf("read %s: %w", fallback, unwrapPathError(err))
			}
		}
	}

	if err := checkScalars(v); err != nil {
		return def, err
	}
	var c config.Config
	if err := v.UnmarshalExact(&c); err != nil {
		return def, oneLine(err)
	}
	// Comma lists in one item (a YAML string, a repeated flag) are split too.
	c.LocalSubnets = splitList(c.LocalSubnets)
	c.MonitorInterfaces = splitList(c.MonitorInterfaces)
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// checkScalars parses every duration, integer and boolean setting that
// arrived as text, so a bad value gets an error naming the key and the
// value instead of the decoder's generic message.
func checkScalars(v *viper.Viper) error {
	rt := reflect.TypeFor[config.Config]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		key := f.Tag.Get("mapstructure")
		s, ok := v.Get(key).(string)
		if !ok {
			continue
		}
		var err error
		reason := ""
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			_, err = time.ParseDuration(s)
			reason = "not a duration (like 1s, 5m, 168h)"
		case f.Type.Kind() == reflect.Int:
			_, err = strconv.Atoi(s)
			reason = "not a whole number"
		case f.Type.Kind() == reflect.Bool:
			_, err = strconv.ParseBool(s)
			reason = "not true or false"
		}
		if err != nil {
			return &config.FieldError{Key: key, Value: s, Reason: reason}
		}
	}
	return nil
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
