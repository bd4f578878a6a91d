// Command kfake runs franz-go's in-memory Kafka-protocol broker (kfake) as
// its own process: the Kafka test peer (docs/peers.md) and the broker
// `make run-scaleout` starts. It is a test peer, not a broker to keep data
// in: production uses Kafka, Redpanda or any Kafka-protocol broker.
//
//	kfake -listen 127.0.0.1:9092 [-ready 127.0.0.1:PORT] [-data-dir DIR] [-c key=value ...]
//
// It serves the Kafka protocol on -listen (kfake binds 127.0.0.1 only),
// answers 200 on http://<ready>/ready once the broker is up (what
// internal/peertest waits for), runs retention and compaction on SIGUSR1
// (kfake's cleaner otherwise runs every log.cleaner.backoff.ms) and closes
// on SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// configs collects repeated -c key=value broker configs.
type configs map[string]string

func (c configs) String() string { return fmt.Sprint(map[string]string(c)) }

func (c configs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, found %q", s)
	}
	c[k] = v
	return nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9092", "Kafka listener (host must be 127.0.0.1)")
	ready := flag.String("ready", "", "HTTP address answering /ready once the broker is up (empty: none)")
	dataDir := flag.String("data-dir", "", "keep the broker's data here across restarts (empty: memory only)")
	partitions := flag.Int("partitions", 4, "partitions of a topic created without a count")
	autoCreate := flag.Bool("auto-create-topics", false, "create a topic on first produce (off, as the router creates its own)")
	bc := configs{}
	flag.Var(bc, "c", "broker config key=value (repeatable), e.g. -c log.cleaner.backoff.ms=1000")
	flag.Parse()
	if err := run(*listen, *ready, *dataDir, *partitions, *autoCreate, bc); err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
}

func run(listen, ready, dataDir string, partitions int, autoCreate bool, bc configs) error {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	if host != "127.0.0.1" && host != "localhost" {
		return fmt.Errorf("-listen: kfake binds 127.0.0.1 only, found %q", host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-listen: port %q: %w", portStr, err)
	}
	// One broker: replication factor 1 is what a test or a demo creates.
	opts := []kfake.Opt{kfake.Ports(port), kfake.DefaultNumPartitions(partitions)}
	if autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	if len(bc) > 0 {
		opts = append(opts, kfake.BrokerConfigs(bc))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("kfake listening on", strings.Join(c.ListenAddrs(), ","))

	if ready != "" {
		l, err := net.Listen("tcp", ready)
		if err != nil {
			return fmt.Errorf("-ready: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
		go func() { _ = http.Serve(l, mux) }()
		defer l.Close()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	for s := range sig {
		if s != syscall.SIGUSR1 {
			return nil
		}
		c.ApplyRetention()
		c.Compact()
	}
	return nil
}
