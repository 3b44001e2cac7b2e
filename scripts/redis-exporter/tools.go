//go:build tools

// Package tools pins the command scripts/tools.sh builds: redis_exporter, the program of
// the Redis pods' rendered metrics image. To move it: change the require line of go.mod
// and DEFAULT_EXPORTER_IMAGE's tag together, then, here,
// `rm go.sum; GONOSUMDB=github.com/oliver006 go mod tidy` (the checksum database does
// not know its versions) and commit go.mod and go.sum.
package tools

import (
	_ "github.com/oliver006/redis_exporter"
)
