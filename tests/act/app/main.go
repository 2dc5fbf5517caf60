// A small Go program for the end-to-end tests under nektos/act (tests/it/act.rs): the user's
// project that the workflows build and test. Standard library only, so that it builds offline.
package main

import "fmt"

func greeting(name string) string { return fmt.Sprintf("hello from %s", name) }

func main() { fmt.Println(greeting("app")) }
