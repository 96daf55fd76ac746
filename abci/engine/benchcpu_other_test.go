//go:build !unix

package engine

import "time"

// processCPU is not measured here: the cpu-ms/block metric reads 0.
func processCPU() time.Duration { return 0 }
