// Core peer benchmarks for Go, the counterpart of aio.py.
//
// Usage: peer-go WORKLOAD [N]
//
// Prints one line per measurement: RESULT <workload> go key=value ...
// CASK_BENCH_QUICK=1 divides the counts by 10 (sleepers take N from the command line).
// GOMAXPROCS is Go's default (the number of cores) unless the environment sets it;
// ctxswitch alone forces 1. Each run measures once; bench/run.sh runs it 3 times.
package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var million = 1000000

func result(workload string, kv ...interface{}) {
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT %s go", workload)
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case float64:
			if v >= 100 || v <= -100 {
				fmt.Fprintf(&b, " %s=%.1f", kv[i], v)
			} else {
				fmt.Fprintf(&b, " %s=%.3f", kv[i], v)
			}
		default:
			fmt.Fprintf(&b, " %s=%v", kv[i], v)
		}
	}
	fmt.Fprintf(&b, " gomaxprocs=%d", runtime.GOMAXPROCS(0))
	fmt.Println(b.String())
}

func perOp(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }

// statusKB reads one field (VmRSS, VmHWM) of /proc/self/status in KiB.
func statusKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	panic("no " + field)
}

// spawn: batches of 1,000 (as every runtime): start a batch of empty goroutines, then wait
// for the batch through one WaitGroup.
const spawnBatch = 1000

func spawnBatches(batches int) {
	var wg sync.WaitGroup
	done := wg.Done
	for b := 0; b < batches; b++ {
		wg.Add(spawnBatch)
		for i := 0; i < spawnBatch; i++ {
			go done()
		}
		wg.Wait()
	}
}

func benchSpawn(n int) {
	spawnBatches(1) // warm-up
	t0 := time.Now()
	spawnBatches(n / spawnBatch)
	result("spawn", "ns_per_task", perOp(time.Since(t0), n/spawnBatch*spawnBatch), "batch", spawnBatch)
}

// switch: two goroutines ping-pong over two unbuffered channels.
func benchSwitch(n int) {
	ping := make(chan struct{})
	pong := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			<-ping
			pong <- struct{}{}
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- struct{}{}
		<-pong
	}
	result("switch", "ns_per_roundtrip", perOp(time.Since(t0), n))
}

// ctxswitch: two goroutines each call runtime.Gosched n times on one P.
func benchCtxswitch(n int) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var wg sync.WaitGroup
	wg.Add(2)
	start := make(chan struct{})
	for g := 0; g < 2; g++ {
		go func() {
			<-start
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	result("ctxswitch", "ns_per_switch", perOp(time.Since(t0), 2*n))
}

// sleepers: n goroutines each sleeping 2 s at once. A goroutine runs as soon as it is made,
// and making 10M of them takes longer than 2 s, so without the gate the first would have ended
// before the last began and the peak would hold only some of them; cask's tasks and Node.js's
// async functions are all alive at once. Each goroutine waits at the gate (a closed channel
// lets them all go) and then sleeps.
func benchSleepers(n int) {
	name := fmt.Sprintf("sleepers_%d", n)
	if n >= 1000000 {
		name = "sleepers_1m"
	} else if n == 100000 {
		name = "sleepers_100k"
	}
	runtime.GC()
	base := statusKB("VmRSS")
	var wg sync.WaitGroup
	gate := make(chan struct{})
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			<-gate
			time.Sleep(2 * time.Second)
			wg.Done()
		}()
	}
	close(gate)
	wg.Wait()
	wall := time.Since(t0)
	hwm := statusKB("VmHWM")
	result(name, "wall_s", wall.Seconds(), "peak_rss_mb", float64(hwm)/1024,
		"bytes_per_task", float64(hwm-base)*1024/float64(n))
}

// timers: n time.AfterFunc callbacks, delays uniform in [0, 1) s, drawn before timing.
func benchTimers(n int) {
	rng := rand.New(rand.NewSource(42))
	delays := make([]time.Duration, n)
	for i := range delays {
		delays[i] = time.Duration(rng.Int63n(int64(time.Second)))
	}
	var left int64 = int64(n)
	var tEnd time.Time
	done := make(chan struct{})
	fire := func() {
		if atomic.AddInt64(&left, -1) == 0 {
			tEnd = time.Now()
			close(done)
		}
	}
	timers := make([]*time.Timer, n) // keep them reachable, as a real program would
	t0 := time.Now()
	for i, d := range delays {
		timers[i] = time.AfterFunc(d, fire)
	}
	t1 := time.Now()
	<-done
	result("timers", "wall_ms", float64(tEnd.Sub(t0).Nanoseconds())/1e6,
		"arm_ns", perOp(t1.Sub(t0), n))
	runtime.KeepAlive(timers)
}

// group is a minimal errgroup (golang.org/x/sync is not available offline):
// Go runs f in a goroutine, Wait joins all and returns the first error.
type group struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (g *group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() { g.err = err })
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	return g.err
}

// group: n empty goroutines through the errgroup-like group.
func benchGroup(n int) {
	var g group
	t0 := time.Now()
	for i := 0; i < n; i++ {
		g.Go(func() error { return nil })
	}
	if err := g.Wait(); err != nil {
		panic(err)
	}
	result("group", "ns_per_task", perOp(time.Since(t0), n))
}

// lockK: lock hand-off. k goroutines each loop: Lock, yield once while holding it
// (runtime.Gosched, so the others queue up on the mutex), Unlock; n pairs in all.
func benchLock(n, k int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	per := n / k
	counter := 0
	start := make(chan struct{})
	for g := 0; g < k; g++ {
		wg.Add(1)
		go func() {
			<-start
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				runtime.Gosched()
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	if counter != per*k {
		panic("lost updates")
	}
	result(fmt.Sprintf("lock%d", k), "ns_per_op", perOp(time.Since(t0), per*k))
}

// queueC: one producer -> one consumer through a channel of capacity c.
func benchQueue(n, c int) {
	ch := make(chan int, c)
	done := make(chan int)
	go func() {
		s := 0
		for i := 0; i < n; i++ {
			s += <-ch
		}
		done <- s
	}()
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
	}()
	<-done
	dt := time.Since(t0)
	result(fmt.Sprintf("queue%d", c), "items_per_s", float64(n)/dt.Seconds())
}

// sem100: n goroutines, each takes a slot of a 100-slot channel semaphore,
// yields once with runtime.Gosched, gives the slot back.
func benchSem(n int) {
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			sem <- struct{}{}
			runtime.Gosched()
			<-sem
			wg.Done()
		}()
	}
	wg.Wait()
	result("sem100", "ns_per_task", perOp(time.Since(t0), n))
}

func main() {
	if q := os.Getenv("CASK_BENCH_QUICK"); q != "" && q != "0" {
		million = 100000
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peer-go WORKLOAD [N]")
		os.Exit(2)
	}
	n := 0
	if len(os.Args) > 2 {
		var err error
		if n, err = strconv.Atoi(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "bad N:", os.Args[2])
			os.Exit(2)
		}
	}
	or := func(def int) int {
		if n > 0 {
			return n
		}
		return def
	}
	switch os.Args[1] {
	case "spawn":
		benchSpawn(or(million))
	case "switch":
		benchSwitch(or(million))
	case "ctxswitch":
		benchCtxswitch(or(million))
	case "sleepers", "sleepers_100k":
		benchSleepers(or(100000))
	case "sleepers_1m":
		benchSleepers(or(1000000))
	case "timers":
		benchTimers(or(million))
	case "group":
		benchGroup(or(million))
	case "lock2":
		benchLock(or(million), 2)
	case "lock100":
		benchLock(or(million), 100)
	case "queue1":
		benchQueue(or(million), 1)
	case "queue1024":
		benchQueue(or(million), 1024)
	case "sem100":
		benchSem(or(million))
	default:
		fmt.Fprintln(os.Stderr, "unknown workload:", os.Args[1])
		os.Exit(2)
	}
}
