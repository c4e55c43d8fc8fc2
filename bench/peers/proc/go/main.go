// Process benchmarks for Go (bench/proc.sh): os/exec, and goroutines for the prime counts.
//
// usage: peer-go-proc WORKLOAD [N]
//
//	spawn_seq [N]  exec.Command("/bin/true").Run(), N (1000) times one after another
//	spawn16 [N]    the same from 16 goroutines at once
//	spawn_1g [N]   spawn_seq (200) with 1 GiB of the heap touched first
//	pipe [BYTES]   a child writes BYTES (1 GiB) of zeros to stdout; read with 256 KiB reads
//	procpool [N]   N (64) prime counts below 200,000 on GOMAXPROCS=1, then 2 (goroutines: Go
//	               has no process pool): jobs/s with 2 and the speed-up over 1
//
// Children get /dev/null as stdin, stdout and stderr (exec.Cmd's default), except the pipe.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const primeLimit = 200000

func spawnWait() {
	if err := exec.Command("/bin/true").Run(); err != nil {
		panic(err)
	}
}

func countPrimes(limit int) int {
	count := 0
	for n := 2; n < limit; n++ {
		prime := true
		for d := 2; d*d <= n; d++ {
			if n%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count
}

func poolTime(procs, jobs int) float64 {
	runtime.GOMAXPROCS(procs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, procs)
	t0 := time.Now()
	for i := 0; i < jobs; i++ {
		wg.Add(1)
		go func() {
			sem <- struct{}{}
			if countPrimes(primeLimit) != 17984 {
				panic("wrong count")
			}
			<-sem
			wg.Done()
		}()
	}
	wg.Wait()
	return time.Since(t0).Seconds()
}

var sink []byte

func main() {
	w := os.Args[1]
	n := 0
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	switch w {
	case "spawn_seq", "spawn_1g":
		if n == 0 {
			n = 1000
			if w == "spawn_1g" {
				n = 200
			}
		}
		if w == "spawn_1g" {
			sink = make([]byte, 1<<30)
			for i := range sink {
				sink[i] = 1
			}
		}
		t0 := time.Now()
		for i := 0; i < n; i++ {
			spawnWait()
		}
		fmt.Printf("RESULT proc_%s go us_per_proc=%.1f gomaxprocs=%d\n", w,
			time.Since(t0).Seconds()*1e6/float64(n), runtime.GOMAXPROCS(0))
	case "spawn16":
		if n == 0 {
			n = 1000
		}
		each := n / 16
		var wg sync.WaitGroup
		t0 := time.Now()
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				for i := 0; i < each; i++ {
					spawnWait()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		fmt.Printf("RESULT proc_spawn16 go us_per_proc=%.1f gomaxprocs=%d\n",
			time.Since(t0).Seconds()*1e6/float64(each*16), runtime.GOMAXPROCS(0))
	case "pipe":
		if n == 0 {
			n = 1 << 30
		}
		t0 := time.Now()
		cmd := exec.Command("head", "-c", strconv.Itoa(n), "/dev/zero")
		out, err := cmd.StdoutPipe()
		if err != nil {
			panic(err)
		}
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		buf := make([]byte, 256*1024)
		total, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{out}, buf)
		if err != nil || total != int64(n) {
			panic("short read")
		}
		if err := cmd.Wait(); err != nil {
			panic(err)
		}
		fmt.Printf("RESULT proc_pipe go mb_per_s=%.1f gomaxprocs=%d\n",
			float64(n)/time.Since(t0).Seconds()/1e6, runtime.GOMAXPROCS(0))
	case "procpool":
		if n == 0 {
			n = 64
		}
		t1 := poolTime(1, n)
		t2 := poolTime(2, n)
		fmt.Printf("RESULT procpool go jobs_per_s=%.1f speedup=%.2f one_worker_jobs_per_s=%.1f limit=%d gomaxprocs=2\n",
			float64(n)/t2, t1/t2, float64(n)/t1, primeLimit)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", w)
		os.Exit(2)
	}
}
