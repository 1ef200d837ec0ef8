package scenario

// The identifiers the generator writes: event ids and message ids, random
// but reproducible for a seed.

// messageID formats a message sequence number as a message_id.
func messageID(n uint64) string {
	var b [20]byte
	i := len(b)
	for n > 0 || i > len(b)-10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i -= 4
	copy(b[i:], "msg-")
	return string(b[i:])
}

// newID returns a random (version 4 layout) UUID from the event stream:
// unique in practice, and reproducible for a seed.
func (g *Generator) newID() string {
	const hex = "0123456789abcdef"
	a, b := g.rng.Uint64(), g.rng.Uint64()
	a = a&^(0xf<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(a >> (56 - 8*i))
		raw[8+i] = byte(b >> (56 - 8*i))
	}
	j := 0
	for i, x := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			g.idBuf[j] = '-'
			j++
		}
		g.idBuf[j], g.idBuf[j+1] = hex[x>>4], hex[x&0xf]
		j += 2
	}
	return string(g.idBuf[:])
}
