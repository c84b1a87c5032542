package gguf

import "fmt"

// Get returns the value of key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kvs[key]
	if !ok {
		return Value{}, false
	}
	return f.Metadata[i].Value, true
}

func (f *File) get(key string) (Value, error) {
	v, ok := f.Get(key)
	if !ok {
		return Value{}, fmt.Errorf("gguf key %q: %w", key, ErrNotFound)
	}
	return v, nil
}

func typeErr(key string, v Value, want string) error {
	return fmt.Errorf("gguf key %q: %w: have %v, want %s", key, ErrType, v.Type, want)
}

// GetString returns the string value of key.
func (f *File) GetString(key string) (string, error) {
	v, err := f.get(key)
	if err != nil {
		return "", err
	}
	s, ok := v.Str()
	if !ok {
		return "", typeErr(key, v, "string")
	}
	return s, nil
}

// GetUint returns the value of key, which must be a non-negative integer of
// any width.
func (f *File) GetUint(key string) (uint64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	u, ok := v.Uint()
	if !ok {
		return 0, typeErr(key, v, "a non-negative integer")
	}
	return u, nil
}

// GetInt returns the value of key, which must be an integer of any width
// that fits in an int64.
func (f *File) GetInt(key string) (int64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	i, ok := v.Int()
	if !ok {
		return 0, typeErr(key, v, "an integer")
	}
	return i, nil
}

// GetFloat32 returns the value of key, which must be a float32 or float64.
func (f *File) GetFloat32(key string) (float32, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	x, ok := v.Float()
	if !ok {
		return 0, typeErr(key, v, "a float")
	}
	return float32(x), nil
}

// GetBool returns the bool value of key.
func (f *File) GetBool(key string) (bool, error) {
	v, err := f.get(key)
	if err != nil {
		return false, err
	}
	b, ok := v.Bool()
	if !ok {
		return false, typeErr(key, v, "bool")
	}
	return b, nil
}

// GetArray returns the array value of key.
func (f *File) GetArray(key string) (Array, error) {
	v, err := f.get(key)
	if err != nil {
		return Array{}, err
	}
	a, ok := v.Array()
	if !ok {
		return Array{}, typeErr(key, v, "array")
	}
	return a, nil
}

// GetStrings returns the value of key, which must be an array of strings.
func (f *File) GetStrings(key string) ([]string, error) {
	a, err := f.GetArray(key)
	if err != nil {
		return nil, err
	}
	s, ok := a.Values.([]string)
	if !ok {
		return nil, fmt.Errorf("gguf key %q: %w: array of %v, want array of string", key, ErrType, a.Elem)
	}
	return s, nil
}

// GetFloat32s returns the value of key, which must be an array of float32.
func (f *File) GetFloat32s(key string) ([]float32, error) {
	a, err := f.GetArray(key)
	if err != nil {
		return nil, err
	}
	s, ok := a.Values.([]float32)
	if !ok {
		return nil, fmt.Errorf("gguf key %q: %w: array of %v, want array of float32", key, ErrType, a.Elem)
	}
	return s, nil
}

// GetInt32s returns the value of key, which must be an array of int32 or of
// uint32 values below 2³¹.
func (f *File) GetInt32s(key string) ([]int32, error) {
	a, err := f.GetArray(key)
	if err != nil {
		return nil, err
	}
	switch s := a.Values.(type) {
	case []int32:
		return s, nil
	case []uint32:
		out := make([]int32, len(s))
		for i, u := range s {
			if u > 1<<31-1 {
				return nil, fmt.Errorf("gguf key %q: element %d = %d does not fit in int32", key, i, u)
			}
			out[i] = int32(u)
		}
		return out, nil
	}
	return nil, fmt.Errorf("gguf key %q: %w: array of %v, want array of int32", key, ErrType, a.Elem)
}
