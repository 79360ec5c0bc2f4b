//go:build tools

// Package deps pins the modules the packages use while they are being written; removed once every import is real.
package deps

import (
	_ "github.com/expr-lang/expr"
	_ "github.com/go-resty/resty/v2"
	_ "github.com/knadh/koanf/parsers/yaml"
	_ "github.com/knadh/koanf/providers/confmap"
	_ "github.com/knadh/koanf/providers/env/v2"
	_ "github.com/knadh/koanf/providers/file"
	_ "github.com/knadh/koanf/providers/rawbytes"
	_ "github.com/knadh/koanf/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/robfig/cron/v3"
	_ "go.etcd.io/bbolt"
	_ "go.yaml.in/yaml/v3"
)
