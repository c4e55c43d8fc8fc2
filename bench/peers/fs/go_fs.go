// The file benchmarks in Go, at its best: os.File with goroutines (Go runs blocking file calls
// on extra OS threads, as many as are blocked). Same work as bench/cask_fs.c.
// usage: go_fs WORKLOAD DIR WHERE
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func lcg(s *uint64) uint64 {
	*s = *s*6364136223846793005 + 1442695040888963407
	return *s >> 33
}

func main() {
	workload, dir, where := os.Args[1], os.Args[2], os.Args[3]
	seconds := 1.0
	if s := os.Getenv("CASK_FS_SECONDS"); s != "" {
		seconds, _ = strconv.ParseFloat(s, 64)
	}
	var ops int64
	switch {
	case len(workload) > 8 && workload[:8] == "randread":
		qd, _ := strconv.Atoi(workload[8:])
		f, err := os.Open(dir + "/big")
		if err != nil {
			panic(err)
		}
		st, _ := f.Stat()
		nblocks := uint64(st.Size() / 4096)
		t0 := time.Now()
		deadline := t0.Add(time.Duration(seconds * float64(time.Second)))
		var wg sync.WaitGroup
		for i := 0; i < qd; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				seed := uint64(i)*7919 + 1
				buf := make([]byte, 4096)
				for time.Now().Before(deadline) {
					off := int64(lcg(&seed)%nblocks) * 4096
					if n, err := f.ReadAt(buf, off); n != 4096 || err != nil {
						panic(err)
					}
					atomic.AddInt64(&ops, 1)
				}
			}(i)
		}
		wg.Wait()
		dt := time.Since(t0).Seconds()
		fmt.Printf("RESULT fs_randread_qd%d_%s go iops=%.0f\n", qd, where, float64(ops)/dt)
	case workload == "seqread":
		f, err := os.Open(dir + "/big")
		if err != nil {
			panic(err)
		}
		buf := make([]byte, 1<<20)
		t0 := time.Now()
		total := 0
		for {
			n, err := f.Read(buf)
			total += n
			if err == io.EOF {
				break
			} else if err != nil {
				panic(err)
			}
		}
		dt := time.Since(t0).Seconds()
		fmt.Printf("RESULT fs_seqread_%s go mb_s=%.0f\n", where, float64(total)/dt/1e6)
	case workload == "smallfiles":
		var next int64 = -1
		t0 := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 8192)
				for {
					i := atomic.AddInt64(&next, 1)
					if i >= 10000 {
						return
					}
					f, err := os.Open(dir + "/small/" + strconv.FormatInt(i, 10))
					if err != nil {
						panic(err)
					}
					for {
						n, err := f.Read(buf)
						if n == 0 || err != nil {
							break
						}
					}
					f.Close()
					atomic.AddInt64(&ops, 1)
				}
			}()
		}
		wg.Wait()
		dt := time.Since(t0).Seconds()
		fmt.Printf("RESULT fs_smallfiles_%s go files_s=%.0f\n", where, float64(ops)/dt)
	case workload == "append":
		path := dir + "/append.go"
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0644)
		if err != nil {
			panic(err)
		}
		buf := make([]byte, 4096)
		t0 := time.Now()
		deadline := t0.Add(time.Duration(seconds * float64(time.Second)))
		for time.Now().Before(deadline) {
			if _, err := f.Write(buf); err != nil {
				panic(err)
			}
			if err := syscall.Fdatasync(int(f.Fd())); err != nil {
				panic(err)
			}
			ops++
		}
		dt := time.Since(t0).Seconds()
		fmt.Printf("RESULT fs_append_fsync_%s go ops_s=%.0f\n", where, float64(ops)/dt)
		f.Close()
		os.Remove(path)
	}
}
