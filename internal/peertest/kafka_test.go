package peertest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStartKafka checks the kfake peer is a real Kafka-protocol broker in
// its own process: a topic created with kadm takes a record that a second
// client reads back.
func TestStartKafka(t *testing.T) {
	addr := StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("60000")}, "peer.check"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "peer.check", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("peer.check"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	fs := cons.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Value) != "v" || string(recs[0].Key) != "k" {
		t.Fatalf("read back %d records, want the one produced", len(recs))
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "peer.check")
	if err != nil {
		t.Fatal(err)
	}
	c, err := rc.On("peer.check", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, kv := range c.Configs {
		found = found || kv.Key == "retention.ms" && kv.MaybeValue() == "60000"
	}
	if !found {
		t.Fatalf("retention.ms not 60000: %+v", c.Configs)
	}
}

// TestKafkaRestartKeepsData: stopped and started again on its address with
// the same -data-dir, the broker still has the topic, its record and the
// group's committed offset (the broker-outage test relies on it).
func TestKafkaRestartKeepsData(t *testing.T) {
	addr, dir := FreeAddr(t), t.TempDir()
	p := StartKafkaAt(t, addr, "-data-dir", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "kept", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "kept", Partition: 0, At: 1})
	if _, err := adm.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	p.Stop()

	StartKafkaAt(t, addr, "-data-dir", dir)
	cl, err = kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm = kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("kept", 0); o.Offset != 1 {
		t.Fatalf("end offset after restart %d, want 1", o.Offset)
	}
	got, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := got.Lookup("kept", 0); o.At != 1 {
		t.Fatalf("committed offset after restart %d, want 1", o.At)
	}
}
