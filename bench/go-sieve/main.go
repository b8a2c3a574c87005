// The anchors' sieve_2000 (shared/anchors/go/main.go) with one fix: the generator gets its
// channel as a parameter. In the anchor, the generator's closure reads the variable `ch`
// that the main loop reassigns, so after the first prime it feeds the newest channel
// directly, every number is reported as a prime, and the filters receive nothing.
//
// Usage (from the repository root):
//   GORO_ANCHORS=bench/go-sieve cargo run --release -p goro-bench -- compare --peers go,goro sieve_2000
package main

import (
	"fmt"
	"os"
	"time"
)

// sieve: the concurrent prime sieve, one goroutine per prime; ns per prime found.
func sieve(primes int) float64 {
	t := time.Now()
	ch := make(chan int)
	go func(out chan<- int) {
		for i := 2; ; i++ {
			out <- i
		}
	}(ch)
	for i := 0; i < primes; i++ {
		p := <-ch
		out := make(chan int)
		go func(in <-chan int, out chan<- int, p int) {
			for {
				v := <-in
				if v%p != 0 {
					out <- v
				}
			}
		}(ch, out, p)
		ch = out
	}
	return float64(time.Since(t).Nanoseconds()) / float64(primes)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] != "sieve_2000" {
		fmt.Fprintf(os.Stderr, "only sieve_2000 is here, not %s\n", os.Args[1])
		os.Exit(2)
	}
	fmt.Printf("sieve_2000 %.1f ns/prime\n", sieve(2000))
}
