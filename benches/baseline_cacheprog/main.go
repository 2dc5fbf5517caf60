// A minimal GOCACHEPROG program, written from the protocol's documentation
// (cmd/go/internal/cacheprog): disk only, no eviction, DiskPath handed out directly, requests
// answered concurrently. The benchmark's floor: what any cache program costs a build.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

type request struct {
	ID       int64
	Command  string
	ActionID []byte
	OutputID []byte
	BodySize int64
}

type response struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

var dir string

func main() {
	dir, _ = filepath.Abs(os.Args[1])
	os.MkdirAll(dir, 0o777)
	dec := json.NewDecoder(bufio.NewReaderSize(os.Stdin, 1<<20))
	out := json.NewEncoder(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	send := func(r response) { mu.Lock(); out.Encode(r); mu.Unlock() }
	send(response{KnownCommands: []string{"get", "put", "close"}})
	for {
		var req request
		if dec.Decode(&req) != nil {
			break
		}
		switch req.Command {
		case "close":
			wg.Wait()
			send(response{ID: req.ID})
			return
		case "put":
			var body []byte
			if req.BodySize > 0 && dec.Decode(&body) != nil {
				os.Exit(2)
			}
			wg.Add(1)
			go func() { defer wg.Done(); send(put(req, body)) }()
		case "get":
			wg.Add(1)
			go func() { defer wg.Done(); send(get(req)) }()
		}
	}
	wg.Wait()
}

func write(name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "tmp-")
	if err != nil {
		return err
	}
	tmp.Write(data)
	tmp.Close()
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

func put(req request, body []byte) response {
	out := hex.EncodeToString(req.OutputID)
	if err := write(out+"-d", body); err != nil {
		return response{ID: req.ID, Err: err.Error()}
	}
	index := fmt.Sprintf("%s %d %d", out, len(body), time.Now().UnixNano())
	if err := write(hex.EncodeToString(req.ActionID)+"-a", []byte(index)); err != nil {
		return response{ID: req.ID, Err: err.Error()}
	}
	return response{ID: req.ID, DiskPath: filepath.Join(dir, out+"-d")}
}

func get(req request) response {
	miss := response{ID: req.ID, Miss: true}
	index, err := os.ReadFile(filepath.Join(dir, hex.EncodeToString(req.ActionID)+"-a"))
	if err != nil {
		return miss
	}
	var out string
	var size, nanos int64
	if _, err := fmt.Sscanf(string(index), "%s %d %d", &out, &size, &nanos); err != nil {
		return miss
	}
	id, err := hex.DecodeString(out)
	path := filepath.Join(dir, out+"-d")
	if fi, serr := os.Stat(path); err != nil || serr != nil || fi.Size() != size {
		return miss
	}
	t := time.Unix(0, nanos)
	return response{ID: req.ID, OutputID: id, Size: size, Time: &t, DiskPath: path}
}
