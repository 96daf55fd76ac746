package sink

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/dstt/dstt/audit"
)

// CursorStore persists, per sink, the head of what the receiver has
// acknowledged.
type CursorStore interface {
	Load(sink string) (audit.ChainHead, error) // the zero head when none is stored
	Save(sink string, head audit.ChainHead) error
}

// FileCursors keeps each cursor in DIR/NAME.cursor as JSON
// {"seq": N, "hash": "HEX"}, replaced atomically (write, fsync, rename,
// fsync the directory).
type FileCursors struct {
	dir string
}

var _ CursorStore = (*FileCursors)(nil)

// NewFileCursors stores cursors in dir, created (0700) if missing.
func NewFileCursors(dir string) (*FileCursors, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sink: cursor dir: %w", err)
	}
	return &FileCursors{dir: dir}, nil
}

var sinkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type cursorFile struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func (c *FileCursors) path(sink string) (string, error) {
	if !sinkName.MatchString(sink) {
		return "", fmt.Errorf("sink: bad sink name %q", sink)
	}
	return filepath.Join(c.dir, sink+".cursor"), nil
}

// Load implements CursorStore.
func (c *FileCursors) Load(sink string) (audit.ChainHead, error) {
	p, err := c.path(sink)
	if err != nil {
		return audit.ChainHead{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return audit.ChainHead{}, nil
	}
	if err != nil {
		return audit.ChainHead{}, err
	}
	var cf cursorFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return audit.ChainHead{}, fmt.Errorf("sink: cursor %s: %v", p, err)
	}
	h, err := hex.DecodeString(cf.Hash)
	if err != nil {
		return audit.ChainHead{}, fmt.Errorf("sink: cursor %s: hash: %v", p, err)
	}
	return audit.ChainHead{Seq: cf.Seq, Hash: h}, nil
}

// Save implements CursorStore.
func (c *FileCursors) Save(sink string, head audit.ChainHead) error {
	p, err := c.path(sink)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(cursorFile{Seq: head.Seq, Hash: hex.EncodeToString(head.Hash)})
	return c.replace(p, append(b, '\n'))
}

// replace writes b to p atomically: write p.tmp, fsync, rename, fsync the
// directory.
func (c *FileCursors) replace(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	d, err := os.Open(c.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Channel implements ChannelStore: DIR/NAME.channel holds the sink's HEC
// channel, generated and saved on first use.
func (c *FileCursors) Channel(sink string) (string, error) {
	p, err := c.path(sink)
	if err != nil {
		return "", err
	}
	p = strings.TrimSuffix(p, ".cursor") + ".channel"
	b, err := os.ReadFile(p)
	if err == nil {
		ch := strings.TrimSpace(string(b))
		if !hecChannel.MatchString(ch) {
			return "", fmt.Errorf("sink: %s holds %q, not a GUID", p, ch)
		}
		return ch, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	ch := NewHECChannel()
	if err := c.replace(p, []byte(ch+"\n")); err != nil {
		return "", fmt.Errorf("sink: save channel: %w", err)
	}
	return ch, nil
}

// ChannelStore is implemented by cursor stores that also keep each HEC
// sink's channel, so that a restarted node polls acknowledgements on the
// channel it used before (Service asks it when hec_channel is not set).
type ChannelStore interface {
	Channel(sink string) (string, error)
}

var (
	_ ChannelStore = (*FileCursors)(nil)
	_ ChannelStore = (*MemoryCursors)(nil)
)

// MemoryCursors is the in-memory twin of FileCursors.
type MemoryCursors struct {
	mu       sync.Mutex
	m        map[string]audit.ChainHead
	channels map[string]string
}

var _ CursorStore = (*MemoryCursors)(nil)

// NewMemoryCursors returns an empty store.
func NewMemoryCursors() *MemoryCursors {
	return &MemoryCursors{m: map[string]audit.ChainHead{}, channels: map[string]string{}}
}

// Load implements CursorStore.
func (c *MemoryCursors) Load(sink string) (audit.ChainHead, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[sink], nil
}

// Save implements CursorStore.
func (c *MemoryCursors) Save(sink string, head audit.ChainHead) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[sink] = head
	return nil
}

// Channel implements ChannelStore.
func (c *MemoryCursors) Channel(sink string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.channels[sink] == "" {
		c.channels[sink] = NewHECChannel()
	}
	return c.channels[sink], nil
}
