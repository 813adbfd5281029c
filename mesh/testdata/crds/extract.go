//go:build ignore

// extract copies the openAPIV3Schema of one version of one
// CustomResourceDefinition out of a CRD YAML file (one or many documents)
// into a JSON file, dropping the "description" texts (documentation only;
// every validating keyword is kept as published). See README.md here.
//
//	go run ./testdata/crds/extract.go CRD-FILE CRD-NAME VERSION OUT.json
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: extract CRD-FILE CRD-NAME VERSION OUT.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3], os.Args[4]); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

type crd struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Versions []struct {
			Name   string `yaml:"name"`
			Schema struct {
				OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
			} `yaml:"schema"`
		} `yaml:"versions"`
	} `yaml:"spec"`
}

func run(file, name, version, out string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var c crd
		if err := dec.Decode(&c); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if c.Metadata.Name != name {
			continue
		}
		for _, v := range c.Spec.Versions {
			if v.Name != version {
				continue
			}
			b, err := json.MarshalIndent(strip(v.Schema.OpenAPIV3Schema), "", " ")
			if err != nil {
				return err
			}
			return os.WriteFile(out, append(b, '\n'), 0o644)
		}
		return fmt.Errorf("%s has no version %q", name, version)
	}
	return fmt.Errorf("no CRD named %q in %s", name, file)
}

// strip removes the "description" keyword of every schema. A property
// named "description" (under "properties") is kept.
func strip(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if k == "description" {
				if _, isSchemaText := e.(string); isSchemaText {
					continue
				}
			}
			if k == "properties" {
				props := make(map[string]any)
				for pk, pv := range e.(map[string]any) {
					props[pk] = strip(pv)
				}
				out[k] = props
				continue
			}
			out[k] = strip(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = strip(e)
		}
		return out
	}
	return v
}
