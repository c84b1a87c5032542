package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type tag of a metadata value.
type ValueType uint32

// The metadata value types. The numeric values are part of the format.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
}

// Valid reports whether t is one of the defined value types.
func (t ValueType) Valid() bool { return int(t) < len(valueTypeNames) }

// String returns the GGUF name of t ("uint32", "string", ...).
func (t ValueType) String() string {
	if !t.Valid() {
		return fmt.Sprintf("valuetype(%d)", uint32(t))
	}
	return valueTypeNames[t]
}

// fixedSize returns the encoded size of a scalar of type t, or 0 for strings
// and arrays.
func (t ValueType) fixedSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// Value is one typed metadata value. Data holds the Go value matching Type:
// uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64,
// int64, float64, or Array for TypeArray. Build values with the constructors
// (Uint32, String, Strings, ...) so Type and Data agree.
type Value struct {
	Type ValueType
	Data any
}

// Array is an array metadata value: all elements have type Elem. Values is a
// slice of the Go type matching Elem ([]uint8, []int8, []uint16, []int16,
// []uint32, []int32, []float32, []bool, []string, []uint64, []int64,
// []float64, or []Array for nested arrays).
type Array struct {
	Elem   ValueType
	Values any
}

// Len returns the number of elements of a.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return 0
}

// Uint8 returns a uint8 value.
func Uint8(v uint8) Value { return Value{TypeUint8, v} }

// Int8 returns an int8 value.
func Int8(v int8) Value { return Value{TypeInt8, v} }

// Uint16 returns a uint16 value.
func Uint16(v uint16) Value { return Value{TypeUint16, v} }

// Int16 returns an int16 value.
func Int16(v int16) Value { return Value{TypeInt16, v} }

// Uint32 returns a uint32 value.
func Uint32(v uint32) Value { return Value{TypeUint32, v} }

// Int32 returns an int32 value.
func Int32(v int32) Value { return Value{TypeInt32, v} }

// Float32 returns a float32 value.
func Float32(v float32) Value { return Value{TypeFloat32, v} }

// Bool returns a bool value.
func Bool(v bool) Value { return Value{TypeBool, v} }

// String returns a string value.
func String(v string) Value { return Value{TypeString, v} }

// Uint64 returns a uint64 value.
func Uint64(v uint64) Value { return Value{TypeUint64, v} }

// Int64 returns an int64 value.
func Int64(v int64) Value { return Value{TypeInt64, v} }

// Float64 returns a float64 value.
func Float64(v float64) Value { return Value{TypeFloat64, v} }

// Strings returns an array-of-strings value.
func Strings(v []string) Value { return Value{TypeArray, Array{TypeString, v}} }

// Float32s returns an array-of-float32 value.
func Float32s(v []float32) Value { return Value{TypeArray, Array{TypeFloat32, v}} }

// Int32s returns an array-of-int32 value.
func Int32s(v []int32) Value { return Value{TypeArray, Array{TypeInt32, v}} }

// Uint32s returns an array-of-uint32 value.
func Uint32s(v []uint32) Value { return Value{TypeArray, Array{TypeUint32, v}} }

// Arrays returns a nested array value whose elements are arrays.
func Arrays(v []Array) Value { return Value{TypeArray, Array{TypeArray, v}} }

// Uint returns v as a uint64 if it is an unsigned integer, or a non-negative
// signed integer.
func (v Value) Uint() (uint64, bool) {
	switch x := v.Data.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	if i, ok := v.Int(); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

// Int returns v as an int64 if it is a signed integer, or an unsigned one
// that fits.
func (v Value) Int() (int64, bool) {
	switch x := v.Data.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// Float returns v as a float64 if it is a float32 or float64.
func (v Value) Float() (float64, bool) {
	switch x := v.Data.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Str returns v's string if it is a string.
func (v Value) Str() (string, bool) {
	s, ok := v.Data.(string)
	return s, ok
}

// Bool returns v's bool if it is a bool.
func (v Value) Bool() (bool, bool) {
	b, ok := v.Data.(bool)
	return b, ok
}

// Array returns v's array if it is an array.
func (v Value) Array() (Array, bool) {
	a, ok := v.Data.(Array)
	return a, ok
}

// String formats v for humans; long arrays are abbreviated.
func (v Value) String() string {
	if a, ok := v.Data.(Array); ok {
		return fmt.Sprintf("[%d × %v]", a.Len(), a.Elem)
	}
	if s, ok := v.Data.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v.Data)
}

// check reports whether Data holds the Go type that Type calls for
// (recursively for arrays, to at most maxDepth levels).
func (v Value) check(depth int) error {
	if !v.Type.Valid() {
		return fmt.Errorf("%w: value type %d", ErrFormat, uint32(v.Type))
	}
	if v.Type == TypeArray {
		a, ok := v.Data.(Array)
		if !ok {
			return fmt.Errorf("%w: array value holds %T", ErrFormat, v.Data)
		}
		return a.check(depth + 1)
	}
	if !scalarMatches(v.Type, v.Data) {
		return fmt.Errorf("%w: %v value holds %T", ErrFormat, v.Type, v.Data)
	}
	return nil
}

func (a Array) check(depth int) error {
	if depth > maxArrayDepth {
		return fmt.Errorf("%w: arrays nested deeper than %d", ErrTooLarge, maxArrayDepth)
	}
	if !a.Elem.Valid() {
		return fmt.Errorf("%w: array element type %d", ErrFormat, uint32(a.Elem))
	}
	if a.Elem == TypeArray {
		inner, ok := a.Values.([]Array)
		if !ok {
			return fmt.Errorf("%w: nested array holds %T", ErrFormat, a.Values)
		}
		for _, in := range inner {
			if err := in.check(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	var ok bool
	switch a.Elem {
	case TypeUint8:
		_, ok = a.Values.([]uint8)
	case TypeInt8:
		_, ok = a.Values.([]int8)
	case TypeUint16:
		_, ok = a.Values.([]uint16)
	case TypeInt16:
		_, ok = a.Values.([]int16)
	case TypeUint32:
		_, ok = a.Values.([]uint32)
	case TypeInt32:
		_, ok = a.Values.([]int32)
	case TypeFloat32:
		_, ok = a.Values.([]float32)
	case TypeBool:
		_, ok = a.Values.([]bool)
	case TypeString:
		_, ok = a.Values.([]string)
	case TypeUint64:
		_, ok = a.Values.([]uint64)
	case TypeInt64:
		_, ok = a.Values.([]int64)
	case TypeFloat64:
		_, ok = a.Values.([]float64)
	}
	if !ok {
		return fmt.Errorf("%w: %v array holds %T", ErrFormat, a.Elem, a.Values)
	}
	return nil
}

func scalarMatches(t ValueType, d any) bool {
	var ok bool
	switch t {
	case TypeUint8:
		_, ok = d.(uint8)
	case TypeInt8:
		_, ok = d.(int8)
	case TypeUint16:
		_, ok = d.(uint16)
	case TypeInt16:
		_, ok = d.(int16)
	case TypeUint32:
		_, ok = d.(uint32)
	case TypeInt32:
		_, ok = d.(int32)
	case TypeFloat32:
		_, ok = d.(float32)
	case TypeBool:
		_, ok = d.(bool)
	case TypeString:
		_, ok = d.(string)
	case TypeUint64:
		_, ok = d.(uint64)
	case TypeInt64:
		_, ok = d.(int64)
	case TypeFloat64:
		_, ok = d.(float64)
	}
	return ok
}
