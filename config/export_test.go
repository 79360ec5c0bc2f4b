package config

// SetReadSecretFile replaces how `*_file` secrets are read until the returned function
// is called.
func SetReadSecretFile(f func(string) ([]byte, error)) (restore func()) {
	old := readSecretFile
	readSecretFile = f
	return func() { readSecretFile = old }
}
