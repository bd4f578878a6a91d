package tenantkafka

import (
	"context"
	"sync"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Stream is one tenant's records of one signal: what a partition of a
// tenant's topic carries, and the unit whose anomaly state moves with it.
type Stream struct {
	Tenant string
	Signal policy.Signal
}

// HandoverListener keeps state per stream that must follow the stream's
// partition from one member of the consumer group to another (the anomaly
// connector's baselines).
type HandoverListener interface {
	// Assigned: this member was given partitions. Whatever it read about
	// other members' streams before may be stale now.
	Assigned()
	// Revoked: an orderly rebalance takes these streams' partitions away.
	// The listener writes their state where the next owner finds it and
	// forgets it before returning: the group hands the partitions on only
	// after every member returned from its revoke.
	Revoked(ctx context.Context, streams []Stream)
	// Lost: the partitions were taken without this member (its session
	// expired); another member may own them already, so nothing is
	// written, only forgotten.
	Lost(streams []Stream)
}

// The tenantkafka receiver of a consumer group and the listeners that
// follow that group's partitions meet here, in one collector process, by
// the group's id: the collector gives a connector no handle on a receiver
// (as internal/sharedcomponent's maps, this registry lives in the process),
// and a partition's tenants are only known to the receiver that reads it.
var handover struct {
	mu        sync.Mutex
	listeners map[string]map[*HandoverListener]struct{} // by group id
}

// Subscribe adds l to the group's listeners until the returned function is
// called.
func Subscribe(group string, l HandoverListener) (unsubscribe func()) {
	key := &l
	handover.mu.Lock()
	if handover.listeners == nil {
		handover.listeners = map[string]map[*HandoverListener]struct{}{}
	}
	if handover.listeners[group] == nil {
		handover.listeners[group] = map[*HandoverListener]struct{}{}
	}
	handover.listeners[group][key] = struct{}{}
	handover.mu.Unlock()
	return func() {
		handover.mu.Lock()
		delete(handover.listeners[group], key)
		if len(handover.listeners[group]) == 0 {
			delete(handover.listeners, group)
		}
		handover.mu.Unlock()
	}
}

func listeners(group string) []HandoverListener {
	handover.mu.Lock()
	defer handover.mu.Unlock()
	out := make([]HandoverListener, 0, len(handover.listeners[group]))
	for l := range handover.listeners[group] {
		out = append(out, *l)
	}
	return out
}

// AnnounceAssigned tells the group's listeners this member was given
// partitions.
func AnnounceAssigned(group string) {
	for _, l := range listeners(group) {
		l.Assigned()
	}
}

// AnnounceRevoked tells the group's listeners these streams leave this
// member in an orderly rebalance, and returns once each has handed them
// over.
func AnnounceRevoked(ctx context.Context, group string, streams []Stream) {
	if len(streams) == 0 {
		return
	}
	for _, l := range listeners(group) {
		l.Revoked(ctx, streams)
	}
}

// AnnounceLost tells the group's listeners these streams were taken away
// without a handover.
func AnnounceLost(group string, streams []Stream) {
	if len(streams) == 0 {
		return
	}
	for _, l := range listeners(group) {
		l.Lost(streams)
	}
}
