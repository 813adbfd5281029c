package core

import (
	"encoding/json"
	"slices"
)

// FallbackNames returns, sorted and without repeats, the name of every
// fallback the document refers to anywhere (policies, tenant overlays,
// variants): the names a registry must have been given with WithFallback
// before it can Apply the document. Tools that apply a document without
// running its calls for real (replay, simulation, test generation) use it to
// register stand-ins.
func (d Document) FallbackNames() []string {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if fbs, ok := x["fallbacks"].([]any); ok {
				for _, fb := range fbs {
					if m, ok := fb.(map[string]any); ok {
						if n, ok := m["name"].(string); ok && n != "" {
							names = append(names, n)
						}
					}
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	slices.Sort(names)
	return slices.Compact(names)
}
