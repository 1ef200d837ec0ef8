package event

import "time"

// parseTime parses an RFC 3339 timestamp with a mandatory zone
// (YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)) and returns it in UTC.
//
// It is a strict hand-written parser: several times faster than time.Parse
// and allocation-free (time.Parse allocates a FixedZone for most non-UTC
// offsets). On inputs that follow the RFC 3339 grammar it agrees with
// time.Parse(time.RFC3339Nano, ...) exactly (FuzzParseTime checks this), and
// like it truncates fractions beyond nanoseconds. It deliberately rejects
// what time.Parse tolerates but RFC 3339 forbids: one-digit hours, offsets
// of 24 hours or more or with minutes >= 60, ',' as the decimal separator.
// So there is no time.Parse fallback: it could only accept such strings.
func parseTime(b []byte) (time.Time, bool) {
	sec, nsec, ok := parseUnix(b)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}

// parseUnix is parseTime's parser; it returns Unix seconds and nanoseconds.
func parseUnix(b []byte) (sec int64, nsec int, ok bool) {
	if len(b) < len("2006-01-02T15:04:05Z") ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, 0, false
	}
	y1, ok1 := num2(b[0], b[1])
	y2, ok2 := num2(b[2], b[3])
	month, ok3 := num2(b[5], b[6])
	day, ok4 := num2(b[8], b[9])
	hour, ok5 := num2(b[11], b[12])
	minute, ok6 := num2(b[14], b[15])
	second, ok7 := num2(b[17], b[18])
	year := y1*100 + y2
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	i := 19
	if b[i] == '.' {
		i++
		n := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if n < 9 {
				nsec = nsec*10 + int(b[i]-'0')
			}
			n++
		}
		if n == 0 {
			return 0, 0, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	if i >= len(b) {
		return 0, 0, false
	}
	offset := 0
	switch b[i] {
	case 'Z':
		i++
	case '+', '-':
		if len(b)-i != len("+07:00") || b[i+3] != ':' {
			return 0, 0, false
		}
		oh, ok1 := num2(b[i+1], b[i+2])
		om, ok2 := num2(b[i+4], b[i+5])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, 0, false
		}
		offset = (oh*60 + om) * 60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return 0, 0, false
	}
	if i != len(b) {
		return 0, 0, false
	}
	sec = daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second-offset)
	return sec, nsec, true
}

// num2 parses two ASCII digits.
func num2(a, b byte) (int, bool) {
	a -= '0'
	b -= '0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
