package consumers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// SettingsFingerprint describes the settings that shape stored rows: bucket
// and block size (the rows' keys), the validation limits and the dedup
// window and id limit (which records count), the message memory's horizon,
// cap and named models (which follow-ups are attributed, and how), the
// contact-state limit and horizon (which sends are flagged), and the
// pseudonym key (which pseudonyms engaged contacts get). The
// key enters only as a keyed hash of a fixed message, so the fingerprint
// can be stored and shown without revealing it. `trustpipe run` records it
// with its tables; a replay refuses tables recorded with another one
// (sink.Store.CheckSettings).
func SettingsFingerprint(cfg Config, pseudonymKey []byte) string {
	mac := hmac.New(sha256.New, pseudonymKey)
	mac.Write([]byte("trustpipe settings fingerprint v1"))
	l := cfg.Limits
	a := cfg.Aggregate
	return fmt.Sprintf("bucket=%s block=%d max_bytes=%d max_depth=%d max_skew=%s max_age=%s dedup_window=%s dedup_max_ids=%d lineage_horizon=%s lineage_max_messages=%d lineage_models=%s contact_states=%d contact_horizon=%s pseudonym_key=%s",
		a.BucketSize, a.BlockSize, l.MaxBytes, l.MaxDepth, l.MaxSkew, l.MaxAge, a.Dedup.Window, a.Dedup.MaxIDs,
		a.Messages.Horizon, a.Messages.MaxMessages, strings.Join(a.Messages.Models, ","), a.Contacts.MaxStates, a.Contacts.Horizon,
		hex.EncodeToString(mac.Sum(nil)[:8]))
}
