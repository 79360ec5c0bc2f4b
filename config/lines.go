package config

import (
	"fmt"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// keyLines maps every key path of a YAML document ("assist.webhook.path",
// "mapping.fields[2].expr") to the line it is written on, so that problems found after
// decoding can still point at the file.
func keyLines(src []byte) (map[string]int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	lines := map[string]int{}
	if len(doc.Content) > 0 {
		walkNode(doc.Content[0], "", lines)
	}
	return lines, nil
}

func walkNode(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinKey(path, k.Value)
			lines[p] = k.Line
			walkNode(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			lines[p] = c.Line
			walkNode(c, p, lines)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			walkNode(n.Alias, path, lines)
		}
	}
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// yamlProblem turns a YAML syntax error into a Problem pointing at its line.
func yamlProblem(file string, err error) Problem {
	src := file
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		src = fmt.Sprintf("%s:%s", file, m[1])
	}
	return Problem{Key: "(yaml)", Msg: "not valid YAML: " + err.Error(), Source: src}
}
