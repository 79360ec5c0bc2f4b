package main

import "strings"

// commandError is the line a command prints for err: the command's name, then the error —
// but an error of the outbox package that already names the same operation ("outbox:
// backup: …" from `backup`, "outbox: compact: …" from `outbox compact`) keeps its own
// words without the repeat: "backup: …", "backup of FILE: …", "outbox compact: …".
func commandError(cmd string, err error) string {
	msg := err.Error()
	op := cmd[strings.LastIndex(cmd, " ")+1:] // "backup", "compact"
	if rest, ok := strings.CutPrefix(msg, "outbox: "+op); ok && (strings.HasPrefix(rest, ": ") || strings.HasPrefix(rest, " of ")) {
		return strings.TrimSuffix(cmd, op) + op + rest
	}
	return cmd + ": " + msg
}
