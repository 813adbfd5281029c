package graphql

import (
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// fieldCache maps the fields of a schema to values computed once per field
// (a guard name). Reads take no lock and allocate nothing: the maps are
// copy-on-write, and grow to the number of fields in the schema at most.
//
// A field is identified by its object type and name. The common lookup is
// by the field's definition, a pointer into the schema (cheaper to hash
// than two strings), checked against the object type: a field selected
// through an interface has the interface's definition for every object
// that implements it, so those objects after the first are found by name.
type fieldCache[V any] struct {
	mu    sync.Mutex
	byDef atomic.Pointer[map[*ast.FieldDefinition]defEntry[V]]
	byKey atomic.Pointer[map[fieldKey]V]
}

type defEntry[V any] struct {
	obj string
	v   V
}

// fieldKey identifies a field of the schema.
type fieldKey struct{ typ, field string }

// get returns the value of fc's field, computing it with mk the first time.
func (c *fieldCache[V]) get(fc *graphql.FieldContext, mk func() V) V {
	def := fc.Field.Definition
	if m := c.byDef.Load(); m != nil && def != nil {
		if e, ok := (*m)[def]; ok && e.obj == fc.Object {
			return e.v
		}
	}
	k := fieldKey{fc.Object, fc.Field.Name}
	if m := c.byKey.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	return c.add(def, k, mk)
}

// add computes and stores the value of a field seen for the first time.
func (c *fieldCache[V]) add(def *ast.FieldDefinition, k fieldKey, mk func() V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	byKey := c.byKey.Load()
	if byKey != nil {
		if v, ok := (*byKey)[k]; ok {
			return v
		}
	}
	v := mk()
	c.byKey.Store(with(byKey, k, v))
	if def != nil {
		byDef := c.byDef.Load()
		if byDef == nil {
			c.byDef.Store(with(byDef, def, defEntry[V]{k.typ, v}))
		} else if _, taken := (*byDef)[def]; !taken {
			c.byDef.Store(with(byDef, def, defEntry[V]{k.typ, v}))
		}
	}
	return v
}

// with returns a copy of *m (nil for none) with k set to v.
func with[K comparable, V any](m *map[K]V, k K, v V) *map[K]V {
	n := 1
	if m != nil {
		n += len(*m)
	}
	out := make(map[K]V, n)
	if m != nil {
		for k, v := range *m {
			out[k] = v
		}
	}
	out[k] = v
	return &out
}
