// GVariant codec: public surface.
export { decode, type DecodeOptions } from './decode.js';
export { encode } from './encode.js';
export { alignUp, offsetWidth, parseType, MAX_TYPE_DEPTH, type TypeInfo, type BasicChar } from './type.js';
export { Variant, vardictGet, type Value, type Vardict, type VardictEntry } from './value.js';
