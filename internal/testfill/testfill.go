// Package testfill fills values for round-trip tests of hand-written
// encodings: a field an encoder forgets then shows up as a difference.
package testfill

import (
	"reflect"
	"strings"
)

// Fill sets v (settable; a struct field by field) to distinct non-zero
// values (pointers allocated, maps and slices with two elements), so a
// field an encoding forgets shows up as a difference. n numbers the values.
func Fill(v reflect.Value, n *int) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		Fill(v.Elem(), n)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			Fill(v.Field(i), n)
		}
	case reflect.String:
		*n++
		v.SetString(strings.Repeat("é", *n%3+1) + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64:
		*n++
		v.SetInt(int64(-*n * 1000003))
	case reflect.Uint64:
		*n++
		v.SetUint(uint64(*n) << 40)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			Fill(k, n)
			Fill(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			Fill(s.Index(i), n)
		}
		v.Set(s)
	default:
		panic("testfill: unhandled kind " + v.Kind().String())
	}
}
