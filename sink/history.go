package sink

import (
	"context"

	"github.com/trustpipe/trustpipe/aggregate"
)

// LoadHistory loads every memory a read of q's partition starting at
// q.Before needs (aggregate.HistoryQuery), in one call per fresh
// partition: the dedup decisions when q asks for a window, the message
// memory's sends when it asks for a horizon (Messages.Horizon > 0), and the
// contact states when it asks for a limit (ContactLimit > 0).
func (s *Store) LoadHistory(ctx context.Context, q aggregate.HistoryQuery) (aggregate.History, error) {
	var h aggregate.History
	if q.Window > 0 {
		var err error
		if h, err = s.DedupHistory(ctx, q); err != nil {
			return h, err
		}
	}
	if q.Messages.Horizon > 0 {
		m, err := s.MessageHistory(ctx, q)
		if err != nil {
			return h, err
		}
		h.Messages = m
	}
	if q.ContactLimit > 0 {
		c, err := s.ContactHistory(ctx, q)
		if err != nil {
			return h, err
		}
		h.Contacts = c
	}
	return h, nil
}
