package format

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// An OCSF validator over the schema's own source files (the ocsf-schema
// repository at the release OCSFVersion: dictionary.json, categories.json,
// events/, objects/, profiles/), committed under testdata. It compiles a
// class as the OCSF server does (extends chains, $include of profiles and
// includes, attribute definitions from the dictionary) and checks an
// event: every attribute defined for the class (profile attributes only
// when metadata.profiles declares the profile), required attributes and
// the class's constraints present, values of the dictionary type (regex,
// max_len), enum values valid and their captions in the sibling, the uid
// arithmetic (category_uid, type_uid = class_uid*100 + activity_id), no
// deprecated attributes, and objects recursively the same way.

var ocsfSchemaDir = filepath.Join("testdata", "ocsf-schema-"+OCSFVersion)

type ocsfAttr struct {
	Type        string                     `json:"type"`
	IsArray     bool                       `json:"is_array"`
	Requirement string                     `json:"requirement"`
	Enum        map[string]json.RawMessage `json:"enum"`
	Sibling     string                     `json:"sibling"`
	Deprecated  json.RawMessage            `json:"@deprecated"`
	profile     string                     // the profile that brings the attribute, "" for none
}

type ocsfType struct {
	Type   string `json:"type"`
	Regex  string `json:"regex"`
	MaxLen int    `json:"max_len"`
}

type ocsfDef struct {
	attrs       map[string]*ocsfAttr
	profiles    []string
	constraints map[string][]string
	category    string
	uid         int
}

type ocsfSchema struct {
	dir      string
	dict     map[string]*ocsfAttr
	types    map[string]ocsfType
	cats     map[string]int
	classes  map[int]string // class uid -> events/ file
	names    map[string]string
	objects  map[string]*ocsfDef
	compiled map[string]*ocsfDef
	used     map[string]bool // the files read to compile what was validated
}

func (s *ocsfSchema) read(rel string, v any) error {
	b, err := os.ReadFile(filepath.Join(s.dir, rel))
	if err != nil {
		return err
	}
	s.used[rel] = true
	return json.Unmarshal(b, v)
}

func loadOCSF(t *testing.T, dir string) *ocsfSchema {
	t.Helper()
	s := &ocsfSchema{dir: dir, cats: map[string]int{}, classes: map[int]string{}, names: map[string]string{},
		objects: map[string]*ocsfDef{}, compiled: map[string]*ocsfDef{}, used: map[string]bool{}}
	var dict struct {
		Attributes map[string]*ocsfAttr `json:"attributes"`
		Types      struct {
			Attributes map[string]ocsfType `json:"attributes"`
		} `json:"types"`
	}
	var cats struct {
		Attributes map[string]struct {
			UID int `json:"uid"`
		} `json:"attributes"`
	}
	var version struct {
		Version string `json:"version"`
	}
	for _, r := range []struct {
		file string
		v    any
	}{{"dictionary.json", &dict}, {"categories.json", &cats}, {"version.json", &version}} {
		if err := s.read(r.file, r.v); err != nil {
			t.Fatal(err)
		}
	}
	if version.Version != OCSFVersion {
		t.Fatalf("%s is OCSF %s, the format writes %s", dir, version.Version, OCSFVersion)
	}
	s.dict, s.types = dict.Attributes, dict.Types.Attributes
	for name, c := range cats.Attributes {
		s.cats[name] = c.UID
	}
	err := filepath.WalkDir(filepath.Join(dir, "events"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		var head struct {
			Name string `json:"name"`
		}
		b, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(b, &head)
		}
		rel, _ := filepath.Rel(dir, p)
		s.names[head.Name] = rel
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawDef is a class, object or profile source file.
type rawDef struct {
	UID         int                        `json:"uid"`
	Name        string                     `json:"name"`
	Extends     string                     `json:"extends"`
	Category    string                     `json:"category"`
	Meta        string                     `json:"meta"`
	Profiles    []string                   `json:"profiles"`
	Constraints map[string][]string        `json:"constraints"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
}

// compile resolves the definition in file rel: its parent's attributes,
// then its $include files (a profile's attributes tagged with the
// profile), then its own attributes merged over them.
func (s *ocsfSchema) compile(rel string, lookup func(string) string) (*ocsfDef, error) {
	if d, ok := s.compiled[rel]; ok {
		return d, nil
	}
	var raw rawDef
	if err := s.read(rel, &raw); err != nil {
		return nil, err
	}
	d := &ocsfDef{attrs: map[string]*ocsfAttr{}, constraints: raw.Constraints, category: raw.Category, uid: raw.UID}
	if raw.Extends != "" {
		parent, err := s.compile(lookup(raw.Extends), lookup)
		if err != nil {
			return nil, fmt.Errorf("%s extends %s: %w", rel, raw.Extends, err)
		}
		for k, a := range parent.attrs {
			c := *a
			d.attrs[k] = &c
		}
		d.profiles = slices.Clone(parent.profiles)
		d.category = cmpOr(d.category, parent.category)
		if d.constraints == nil {
			d.constraints = parent.constraints
		}
	}
	d.profiles = append(d.profiles, raw.Profiles...)
	if inc, ok := raw.Attributes["$include"]; ok {
		var files []string
		if json.Unmarshal(inc, &files) != nil {
			var one string
			if err := json.Unmarshal(inc, &one); err != nil {
				return nil, fmt.Errorf("%s: $include: %w", rel, err)
			}
			files = []string{one}
		}
		for _, f := range files {
			var p rawDef
			if err := s.read(f, &p); err != nil {
				return nil, err
			}
			profile := ""
			if p.Meta == "profile" {
				profile = p.Name
			}
			for k, v := range p.Attributes {
				if err := d.merge(k, v, profile); err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
			}
		}
	}
	for k, v := range raw.Attributes {
		if k == "$include" {
			continue
		}
		if err := d.merge(k, v, "\x00keep"); err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
	}
	s.compiled[rel] = d
	return d, nil
}

// merge lays the attribute definition v over d's attribute k. profile is
// the including profile, or "\x00keep" for the definition's own
// attributes: they keep the profile tag unless they set "profile": null.
func (d *ocsfDef) merge(k string, v json.RawMessage, profile string) error {
	a := d.attrs[k]
	if a == nil {
		a = &ocsfAttr{}
		d.attrs[k] = a
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return err
	}
	enum := maps.Clone(a.Enum)
	if err := json.Unmarshal(v, a); err != nil {
		return err
	}
	if len(enum) > 0 { // an enum given lower down extends the inherited one
		maps.Copy(enum, a.Enum)
		a.Enum = enum
	}
	switch p, has := m["profile"]; {
	case profile != "\x00keep":
		a.profile = profile
	case has && string(p) == "null":
		a.profile = ""
	}
	return nil
}

// class compiles the event class with uid classUID (category uid * 1000
// + the class's uid in its category).
func (s *ocsfSchema) class(classUID int) (*ocsfDef, error) {
	head := func(rel string) rawDef {
		var h rawDef
		b, _ := os.ReadFile(filepath.Join(s.dir, rel))
		_ = json.Unmarshal(b, &h)
		return h
	}
	for _, rel := range s.names {
		h := head(rel)
		if h.UID == 0 || !strings.HasPrefix(rel, "events"+string(filepath.Separator)) {
			continue
		}
		cat := h.Category
		for p := h; cat == "" && p.Extends != ""; {
			p = head(s.names[p.Extends])
			cat = p.Category
		}
		if s.cats[cat]*1000+h.UID == classUID {
			return s.compile(rel, func(n string) string { return s.names[n] })
		}
	}
	return nil, fmt.Errorf("no class %d in %s", classUID, s.dir)
}

func (s *ocsfSchema) object(name string) (*ocsfDef, error) {
	return s.compile(filepath.Join("objects", name+".json"), func(n string) string {
		return filepath.Join("objects", n+".json")
	})
}

// validate returns every way ev breaks the schema.
func (s *ocsfSchema) validate(ev map[string]any) []string {
	var v ocsfCheck
	classUID, _ := ev["class_uid"].(float64)
	activity, _ := ev["activity_id"].(float64)
	class, err := s.class(int(classUID))
	if err != nil {
		return []string{err.Error()}
	}
	if got, _ := ev["category_uid"].(float64); int(got) != s.cats[class.category] {
		v.fail("category_uid %v, want %d", ev["category_uid"], s.cats[class.category])
	}
	if got, _ := ev["type_uid"].(float64); int(got) != int(classUID)*100+int(activity) {
		v.fail("type_uid %v, want class_uid*100+activity_id = %d", ev["type_uid"], int(classUID)*100+int(activity))
	}
	meta, _ := ev["metadata"].(map[string]any)
	profiles, _ := meta["profiles"].([]any)
	for _, p := range profiles {
		name, _ := p.(string)
		v.profiles = append(v.profiles, name)
		if !slices.Contains(class.profiles, name) {
			v.fail("metadata.profiles: class %d does not take profile %v", int(classUID), p)
		}
	}
	s.check(&v, "", class, ev)
	return v.problems
}

type ocsfCheck struct {
	profiles []string
	problems []string
}

func (v *ocsfCheck) fail(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// check validates obj against def: attributes, requirements, constraints.
func (s *ocsfSchema) check(v *ocsfCheck, path string, def *ocsfDef, obj map[string]any) {
	for k, val := range obj {
		a, ok := def.attrs[k]
		switch {
		case !ok:
			v.fail("%s%s is not an attribute here", path, k)
			continue
		case a.profile != "" && !slices.Contains(v.profiles, a.profile):
			v.fail("%s%s comes with profile %s, which metadata.profiles does not declare", path, k, a.profile)
		case len(a.Deprecated) > 0:
			v.fail("%s%s is deprecated", path, k)
		}
		s.value(v, path+k, k, a, val, obj)
	}
	for k, a := range def.attrs {
		if _, ok := obj[k]; !ok && a.Requirement == "required" && (a.profile == "" || slices.Contains(v.profiles, a.profile)) {
			v.fail("%s%s is required", path, k)
		}
	}
	if names := def.constraints["at_least_one"]; len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { _, ok := obj[n]; return ok }) {
		v.fail("%s: needs at least one of %v", strings.TrimSuffix(path, "."), names)
	}
	if names := def.constraints["just_one"]; len(names) > 0 {
		n := 0
		for _, name := range names {
			if _, ok := obj[name]; ok {
				n++
			}
		}
		if n != 1 {
			v.fail("%s: needs exactly one of %v", strings.TrimSuffix(path, "."), names)
		}
	}
}

// value checks one attribute's value: array-ness, type, enum and sibling.
func (s *ocsfSchema) value(v *ocsfCheck, path, name string, a *ocsfAttr, val any, parent map[string]any) {
	d := s.dict[name]
	if d == nil {
		v.fail("%s: %s is not in the dictionary", path, name)
		return
	}
	typ, isArray := cmpOr(a.Type, d.Type), a.IsArray || d.IsArray
	vals := []any{val}
	if arr, ok := val.([]any); ok != isArray {
		v.fail("%s: array is %v, the schema says %v", path, ok, isArray)
		return
	} else if ok {
		vals = arr
	}
	enum := a.Enum
	if len(enum) == 0 {
		enum = d.Enum
	}
	if name == "class_uid" || name == "category_uid" || name == "type_uid" {
		enum = nil // generated per class by the OCSF server; validate checks the arithmetic
	}
	for i, x := range vals {
		p := path
		if isArray {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		s.typed(v, p, typ, x)
		if len(enum) > 0 {
			s.enum(v, p, cmpOr(a.Sibling, d.Sibling), enum, x, parent)
		}
	}
}

func (s *ocsfSchema) typed(v *ocsfCheck, path, typ string, x any) {
	if !strings.HasSuffix(typ, "_t") && typ != "object" {
		def, err := s.object(typ)
		if err != nil {
			v.fail("%s: object %s: %v", path, typ, err)
			return
		}
		obj, ok := x.(map[string]any)
		if !ok {
			v.fail("%s: want a %s object", path, typ)
			return
		}
		s.check(v, path+".", def, obj)
		return
	}
	if typ == "object" {
		if _, ok := x.(map[string]any); !ok {
			v.fail("%s: want an object", path)
		}
		return
	}
	t := s.types[typ]
	base := cmpOr(t.Type, typ)
	switch base {
	case "string_t":
		str, ok := x.(string)
		switch {
		case !ok:
			v.fail("%s: want a string (%s)", path, typ)
		case t.MaxLen > 0 && len(str) > t.MaxLen:
			v.fail("%s: longer than %d", path, t.MaxLen)
		case t.Regex != "" && !regexp.MustCompile(t.Regex).MatchString(str):
			v.fail("%s: %q does not match the %s pattern", path, str, typ)
		}
	case "integer_t", "long_t":
		if n, ok := x.(float64); !ok || n != float64(int64(n)) {
			v.fail("%s: want an integer (%s)", path, typ)
		}
	case "float_t":
		if _, ok := x.(float64); !ok {
			v.fail("%s: want a number", path)
		}
	case "boolean_t":
		if _, ok := x.(bool); !ok {
			v.fail("%s: want a boolean", path)
		}
	case "json_t":
	default:
		v.fail("%s: unknown type %s", path, typ)
	}
}

// enum checks an enum value and that its sibling (activity_name for
// activity_id, ...) holds the caption, except for Other (99), whose
// sibling names the source's own value.
func (s *ocsfSchema) enum(v *ocsfCheck, path, sibling string, enum map[string]json.RawMessage, x any, parent map[string]any) {
	key := fmt.Sprint(x)
	if n, ok := x.(float64); ok {
		key = strconv.FormatInt(int64(n), 10)
	}
	raw, ok := enum[key]
	if !ok {
		v.fail("%s: %v is not among %v", path, x, slices.Sorted(maps.Keys(enum)))
		return
	}
	var item struct {
		Caption string `json:"caption"`
	}
	_ = json.Unmarshal(raw, &item)
	if got, has := parent[sibling]; sibling != "" && has && key != "99" && got != item.Caption {
		v.fail("%s: %v is %q, but %s is %q", path, x, item.Caption, sibling, got)
	}
}

var ocsfSource = flag.String("ocsf-source", "", "an ocsf-schema checkout at tag OCSFVersion: validate against it and copy the files the test reads into testdata")

// TestOCSFSchema validates the OCSF event of every sample entry against
// the committed OCSF schema files. With -ocsf-source DIR it validates
// against a full checkout instead and refreshes testdata with the files
// read (the schema subset committed there).
func TestOCSFSchema(t *testing.T) {
	dir := ocsfSchemaDir
	if *ocsfSource != "" {
		dir = *ocsfSource
	}
	s := loadOCSF(t, dir)
	f := mustNew(t, OCSF)
	for _, e := range sampleEntries() {
		b := f.Append(nil, &e)
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if problems := s.validate(ev); len(problems) > 0 {
			t.Errorf("%s:\n  %s\n%s", sampleName(&e), strings.Join(problems, "\n  "), b)
		}
	}
	// The validator finds what the issue found in earlier output.
	bad := map[string]any{
		"activity_id": 1.0, "category_uid": 3.0, "class_uid": 3005.0, "type_uid": 300502.0, "severity_id": 7.0,
		"time": "now", "metadata": map[string]any{"version": OCSFVersion, "product": map[string]any{"name": "dstt"}},
		"user": map[string]any{"uid": "u"}, "privileges": "grant", "resource": map[string]any{"uid": "k"},
		"actor": map[string]any{"user": map[string]any{}}, "status": "Failure", "status_id": 1.0, "web_resources": []any{},
	}
	got := strings.Join(s.validate(bad), "\n")
	for _, want := range []string{"type_uid 300502", "severity_id: 7 is not among", "time: want an integer",
		"privileges: array is false", "resource is deprecated", "actor.user: needs at least one of",
		"status_id: 1 is \"Success\", but status is \"Failure\"", "web_resources is not an attribute here"} {
		if !strings.Contains(got, want) {
			t.Errorf("validator missed %q; found:\n%s", want, got)
		}
	}
	if *ocsfSource != "" {
		copyOCSFSubset(t, s)
	}
}

func copyOCSFSubset(t *testing.T, s *ocsfSchema) {
	if err := os.RemoveAll(ocsfSchemaDir); err != nil {
		t.Fatal(err)
	}
	files := slices.Sorted(maps.Keys(s.used))
	for _, rel := range append(files, "LICENSE") {
		b, err := os.ReadFile(filepath.Join(s.dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(ocsfSchemaDir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("copied %d schema files into %s", len(files), ocsfSchemaDir)
}
