package node

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// journalSeenFile remembers the last roster version and policy bundle that
// were journaled, so that a restart does not journal them again.
func (n *Node) journalSeenFile() string { return filepath.Join(n.dir, JournalDir, "seen.json") }

func (n *Node) readJournalSeen() map[string]string {
	m := map[string]string{}
	if data, err := os.ReadFile(n.journalSeenFile()); err == nil {
		_ = json.Unmarshal(data, &m)
	}
	return m
}

func (n *Node) journalSeen(kind, value string) bool { return n.readJournalSeen()[kind] == value }

func (n *Node) markJournalSeen(kind, value string) {
	m := n.readJournalSeen()
	m[kind] = value
	if data, err := json.Marshal(m); err == nil {
		_ = atomicfile.Write(n.journalSeenFile(), data, 0o600)
	}
}
