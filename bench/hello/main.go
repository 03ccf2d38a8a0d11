// Command hello prints a greeting. The benchmarks time it as the floor of
// a Go program's start-up on this machine.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
