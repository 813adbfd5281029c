package core

import (
	"fmt"
	"strconv"
)

// checkSegments reports the problems of doc's tenant overlays and variants,
// given the document's valid policies by name.
func checkSegments(doc Document, policies map[string]Policy) []Problem {
	var probs []Problem
	if t := doc.Tenants; t != nil {
		if t.MaxGuards < 0 {
			probs = append(probs, Problem{Path: "tenants.maxGuards", Value: strconv.Itoa(t.MaxGuards), Message: "must not be negative"})
		}
		for i, o := range t.Overrides {
			path := fmt.Sprintf("tenants.overrides[%d]", i)
			if o.Tenant == "" {
				probs = append(probs, Problem{Path: path + ".tenant", Message: "must not be empty"})
			}
			for j, p := range o.Policies {
				if _, ok := policies[p.Name]; !ok {
					probs = append(probs, Problem{Path: fmt.Sprintf("%s.policies[%d].name", path, j), Value: strconv.Quote(p.Name), Message: fmt.Sprintf("no policy %q in the document to overlay", p.Name)})
				}
			}
		}
	}
	seen := map[string]bool{}
	for i, v := range doc.Variants {
		path := fmt.Sprintf("variants[%d]", i)
		switch {
		case v.Name == "":
			probs = append(probs, Problem{Path: path + ".name", Message: "must not be empty"})
		case seen[v.Name]:
			probs = append(probs, Problem{Path: path + ".name", Value: strconv.Quote(v.Name), Message: fmt.Sprintf("duplicate variant name %q", v.Name)})
		}
		seen[v.Name] = true
		if _, ok := policies[v.Policy]; !ok {
			probs = append(probs, Problem{Path: path + ".policy", Value: strconv.Quote(v.Policy), Message: fmt.Sprintf("no policy %q in the document", v.Policy)})
		}
		if v.Percent < 0 || v.Percent > 100 {
			probs = append(probs, Problem{Path: path + ".percent", Value: strconv.FormatFloat(v.Percent, 'g', -1, 64), Message: "must be within 0-100"})
		}
		if v.Percent == 0 && v.Attribute == "" {
			probs = append(probs, Problem{Path: path, Message: "needs percent or attribute to select its segment"})
		}
	}
	return probs
}
