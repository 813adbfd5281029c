package machine

import (
	"strconv"
	"strings"
)

// Diagram formats.
const (
	FormatMermaid = "mermaid"
	FormatDOT     = "dot"
)

// Mermaid returns the graph as a Mermaid stateDiagram-v2: one line per
// transition labelled with its conditions, a note of each state's
// admission rule, and, when current names a state, that state highlighted
// (class "current").
func (g *Graph) Mermaid(current string) string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	b.WriteString("    [*] --> " + g.Initial() + "\n")
	for i, s := range g.states {
		b.WriteString("    " + s.name + " : " + s.name + " (" + g.admitText(i) + ")\n")
	}
	for _, t := range g.spec.Transitions {
		b.WriteString("    " + t.From + " --> " + t.To + " : " + mermaidLabel(t.When.String()) + "\n")
	}
	if g.Index(current) >= 0 {
		b.WriteString("    classDef current fill:#fde68a,stroke:#b45309,stroke-width:2px\n")
		b.WriteString("    class " + current + " current\n")
	}
	return b.String()
}

// mermaidLabel escapes what Mermaid would read as syntax in a label.
func mermaidLabel(s string) string {
	return strings.NewReplacer(">", "#62;", "<", "#60;", ":", "#58;").Replace(s)
}

// DOT returns the graph in Graphviz DOT, the current state (when current
// names one) filled.
func (g *Graph) DOT(current string) string {
	var b strings.Builder
	b.WriteString("digraph machine {\n")
	b.WriteString("    rankdir=LR;\n")
	b.WriteString("    node [shape=box, style=rounded];\n")
	b.WriteString("    __start [shape=point, label=\"\"];\n")
	b.WriteString("    __start -> " + strconv.Quote(g.Initial()) + ";\n")
	for i, s := range g.states {
		attrs := "label=" + strconv.Quote(s.name+"\n"+g.admitText(i))
		if s.name == current {
			attrs += ", style=\"rounded,filled\", fillcolor=\"#fde68a\""
		}
		if s.manual {
			attrs += ", peripheries=2"
		}
		b.WriteString("    " + strconv.Quote(s.name) + " [" + attrs + "];\n")
	}
	for _, t := range g.spec.Transitions {
		b.WriteString("    " + strconv.Quote(t.From) + " -> " + strconv.Quote(t.To) + " [label=" + strconv.Quote(t.When.String()) + "];\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Admission returns the admission rule of state i as text: "all", "none",
// "readOnly" or "percent 50".
func (g *Graph) Admission(i int) string { return g.admitText(i) }

func (g *Graph) admitText(i int) string {
	s := g.states[i]
	var t string
	switch s.admit {
	case admitNone:
		t = AdmitNone
	case admitRead:
		t = AdmitReadOnly
	case admitPercent:
		t = AdmitPercent + " " + fmtFloat(g.spec.States[i].Percent)
	default:
		t = AdmitAll
	}
	if s.manual {
		t += ", manual"
	}
	return t
}
