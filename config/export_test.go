package config

// SetReadFile replaces how the config file and `*_file` secrets are read until the
// returned function is called.
func SetReadFile(f func(string) ([]byte, error)) (restore func()) {
	old := readFile
	readFile = f
	return func() { readFile = old }
}
