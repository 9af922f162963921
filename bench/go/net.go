package main

// The network workloads: the Go twin of gort-bench/src/workloads/net.rs
// (tcp_echo, tcp_rtt) and workloads/http.rs (http_hello).

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// echoConns is CONNS.
	echoConns = 50
	// echoRoundTrips is ROUND_TRIPS (per connection).
	echoRoundTrips = 10_000
	// echoMsgSize is MSG.
	echoMsgSize = 64
	// rttRoundTrips is RTT_ROUND_TRIPS (tcp_rtt's one connection).
	rttRoundTrips = 30_000
)

// wrkArgs is WRK_ARGS: wrk's flags before the URL.
var wrkArgs = []string{"-t2", "-c64", "-d3s", "--latency"}

// helloBody is hyper_gort::HELLO.
var helloBody = []byte("Hello, world!\n")

// tcp_echo: a listener on 127.0.0.1:0; connect echoConns clients (Go's
// TCP conns have TCP_NODELAY on by default) and start an echo goroutine
// per accepted connection (read up to echoMsgSize bytes, write them back,
// until EOF). Then, timed, each client goroutine makes echoRoundTrips
// round trips of echoMsgSize bytes. ns per round trip.
func tcpEcho() roundResult { return echo(echoConns, echoRoundTrips) }

// tcp_rtt: tcp_echo with one connection making rttRoundTrips round trips.
func tcpRtt() roundResult { return echo(1, rttRoundTrips) }

// echo runs tcp_echo with conns connections of trips round trips each.
func echo(conns, trips int) roundResult {
	// rtts[ci] holds client ci's round trips (as the Rust side's RttLog).
	rtts := make([][]time.Duration, conns)
	d := onGoroutine(false, func() time.Duration {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatalf("tcp_echo: listen: %v", err)
		}
		defer ln.Close()
		clients := make([]net.Conn, 0, conns)
		for i := 0; i < conns; i++ {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				fatalf("tcp_echo: dial: %v", err)
			}
			s, err := ln.Accept()
			if err != nil {
				fatalf("tcp_echo: accept: %v", err)
			}
			go func(s net.Conn) {
				defer s.Close()
				buf := make([]byte, echoMsgSize)
				for {
					n, err := s.Read(buf)
					if err != nil {
						return
					}
					if _, err := s.Write(buf[:n]); err != nil {
						return
					}
				}
			}(s)
			clients = append(clients, c)
		}
		var wg sync.WaitGroup
		wg.Add(conns)
		start := time.Now()
		for ci, c := range clients {
			go func(ci int, c net.Conn) {
				defer wg.Done()
				msg := make([]byte, echoMsgSize)
				for i := range msg {
					msg[i] = byte(ci)
				}
				back := make([]byte, echoMsgSize)
				mine := make([]time.Duration, 0, trips)
				for i := 0; i < trips; i++ {
					msg[0] = byte(i)
					t := time.Now()
					if _, err := c.Write(msg); err != nil {
						fatalf("tcp_echo: client write: %v", err)
					}
					if _, err := io.ReadFull(c, back); err != nil {
						fatalf("tcp_echo: client read: %v", err)
					}
					mine = append(mine, time.Since(t))
				}
				rtts[ci] = mine
				if back[0] != byte((trips-1)%256) {
					fatalf("tcp_echo: echo out of step")
				}
			}(ci, c)
		}
		wg.Wait()
		d := time.Since(start)
		for _, c := range clients {
			c.Close()
		}
		return d
	})
	// The extras: nearest-rank p99 and the slowest round trip, in µs.
	all := make([]int64, 0, conns*trips)
	for _, mine := range rtts {
		for _, r := range mine {
			all = append(all, int64(r))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p99 := all[(len(all)*99+99)/100-1]
	return roundResult{
		value: nsPerOp(d, conns*trips),
		extra: []extraField{
			{name: "p99_us", value: float64(p99) / 1e3},
			{name: "max_us", value: float64(all[len(all)-1]) / 1e3},
		},
	}
}

// http_hello: net/http serving helloBody for every request on
// 127.0.0.1:0, loaded by one wrk run. The value is ns per request (1e9 /
// requests per second); go_rps and go_p99_us (wrk's 99th-percentile
// latency) ride along.
func httpHello() roundResult {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("http_hello: listen: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(helloBody)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	out, err := exec.Command("wrk", append(wrkArgs, "http://"+ln.Addr().String()+"/")...).Output()
	if err != nil {
		fatalf("http_hello: wrk: %v", err)
	}
	rps, p99us, err := parseWrk(string(out))
	if err != nil {
		fatalf("http_hello: %v:\n%s", err, out)
	}
	return roundResult{
		value: 1e9 / rps,
		extra: []extraField{{"rps", rps}, {"p99_us", p99us}},
	}
}

// parseWrk reads "Requests/sec:" and the "99%" line of --latency, as
// parse_wrk does; a report with errors is refused.
func parseWrk(report string) (rps, p99us float64, err error) {
	if strings.Contains(report, "Non-2xx") || strings.Contains(report, "Socket errors") {
		return 0, 0, fmt.Errorf("wrk: errors during the run")
	}
	rps, p99us = -1, -1
	for _, line := range strings.Split(report, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Requests/sec:":
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				rps = v
			}
		case "99%":
			if v, ok := wrkDurationUs(f[1]); ok {
				p99us = v
			}
		}
	}
	if rps <= 0 || p99us < 0 {
		return 0, 0, fmt.Errorf("wrk: no Requests/sec or no 99%% latency")
	}
	return rps, p99us, nil
}

// wrkDurationUs converts wrk's "812.00us", "1.23ms", "2.01s", "1.00m" to µs.
func wrkDurationUs(s string) (float64, bool) {
	units := []struct {
		suffix string
		scale  float64
	}{{"us", 1}, {"ms", 1e3}, {"m", 60e6}, {"s", 1e6}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			return v * u.scale, err == nil
		}
	}
	return 0, false
}
