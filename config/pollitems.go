package config

// RESTPollItems returns cad.rest.poll.items of the config file at path ("" when the file
// has none, or cad.adapter is not rest), for `cad-sidecar map` to find the records in a
// raw poll answer. Only the file is read (not the environment); errors are LoadMapping's
// to report, so they give "".
func RESTPollItems(path string) string {
	k, _, err := readLayers(path, Options{}, false)
	if err != nil {
		return ""
	}
	if a := k.String("cad" + delim + "adapter"); a != "" && a != "rest" {
		return ""
	}
	return k.String("cad" + delim + "rest" + delim + "poll" + delim + "items")
}
