package tomlcfg

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrType marks a value that cannot be stored in the field it names.
var ErrType = errors.New("tomlcfg: wrong type")

// Unmarshal parses data and decodes it into dst, a pointer to a struct, by the fields'
// `mapstructure` tags (`,squash` embeds; untagged fields match their name). Keys match
// case-insensitively. Fields without a key in data keep their current value, so decoding
// into a default config fills in what the file leaves out. Keys without a field are
// ignored, as viper does. Slices are replaced, not merged.
func Unmarshal(data []byte, dst any) error {
	tree, err := Parse(data)
	if err != nil {
		return err
	}
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("tomlcfg: Unmarshal needs a non-nil pointer to a struct, got %T", dst)
	}
	var errs []error
	decodeStruct(tree, v.Elem(), "", &errs)
	return errors.Join(errs...)
}

var durationType = reflect.TypeFor[time.Duration]()

func decodeStruct(m map[string]any, v reflect.Value, path string, errs *[]error) {
	// Index the map by lower-case key; sort so that errors come out in a stable order.
	lower := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lower[strings.ToLower(k)] = k
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if opts == "squash" {
			decodeStruct(m, indirect(fv), path, errs)
			continue
		}
		if name == "" {
			name = f.Name
		}
		key, ok := lower[strings.ToLower(name)]
		if !ok {
			continue
		}
		decodeValue(m[key], fv, join(path, key), errs)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indirect allocates nil pointers and returns the value they point to.
func indirect(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	return v
}

func decodeValue(in any, v reflect.Value, path string, errs *[]error) {
	v = indirect(v)
	fail := func(want string) {
		*errs = append(*errs, fmt.Errorf("%w: %s = %#v: want %s", ErrType, path, in, want))
	}
	if v.Type() == durationType {
		switch x := in.(type) {
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				fail(`a duration such as "100ms"`)
				return
			}
			v.SetInt(int64(d))
		case int64:
			v.SetInt(x) // nanoseconds, as mapstructure does
		default:
			fail(`a duration such as "100ms"`)
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		switch x := in.(type) {
		case string:
			v.SetString(x)
		case int64:
			v.SetString(strconv.FormatInt(x, 10))
		case bool:
			v.SetString(strconv.FormatBool(x))
		default:
			fail("a string")
		}
	case reflect.Bool:
		switch x := in.(type) {
		case bool:
			v.SetBool(x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				fail("true or false")
				return
			}
			v.SetBool(b)
		case int64:
			v.SetBool(x != 0)
		default:
			fail("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := toInt(in)
		if !ok || v.OverflowInt(n) {
			fail(fmt.Sprintf("an integer that fits %s", v.Type()))
			return
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := toInt(in)
		if !ok || n < 0 || v.OverflowUint(uint64(n)) {
			fail(fmt.Sprintf("a non-negative integer that fits %s", v.Type()))
			return
		}
		v.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch x := in.(type) {
		case float64:
			v.SetFloat(x)
		case int64:
			v.SetFloat(float64(x))
		default:
			fail("a number")
		}
	case reflect.Slice:
		decodeSlice(in, v, path, errs)
	case reflect.Struct:
		m, ok := in.(map[string]any)
		if !ok {
			fail("a table")
			return
		}
		decodeStruct(m, v, path, errs)
	default:
		fail("a supported type (" + v.Type().String() + " is not)")
	}
}

// toInt converts an integer, an integral float or a quoted integer (viper's weak typing).
func toInt(in any) (int64, bool) {
	switch x := in.(type) {
	case int64:
		return x, true
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 0, 64)
		return n, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func decodeSlice(in any, v reflect.Value, path string, errs *[]error) {
	var items []any
	switch x := in.(type) {
	case []any:
		items = x
	case string:
		// viper's StringToSliceHookFunc(","): "a,b" fills a []string; "" is empty.
		if v.Type().Elem().Kind() != reflect.String {
			*errs = append(*errs, fmt.Errorf("%w: %s = %q: want an array", ErrType, path, x))
			return
		}
		if x == "" {
			v.Set(reflect.Zero(v.Type())) // nil, as CometBFT's defaults have it
			return
		}
		for _, s := range strings.Split(x, ",") {
			items = append(items, s)
		}
	default:
		*errs = append(*errs, fmt.Errorf("%w: %s = %#v: want an array", ErrType, path, in))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		decodeValue(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i), errs)
	}
	v.Set(out)
}
