//! Metadata values: the 13 GGUF value types, scalars and (typed) arrays.

use std::fmt;

/// The 13 GGUF value types, listed once: [`ValueType`] (variant = id, name),
/// the element of a [`MetadataArray`] and the payload of a [`MetadataValue`]
/// (Rust type) and the matches that map between them.
macro_rules! value_types {
    ($($v:ident = $id:literal, $name:literal, $t:ty, $about:literal;)*) => {
        /// A GGUF metadata value type id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum ValueType {
            $(#[doc = concat!($about, " (", $id, ").")] $v = $id,)*
        }

        impl ValueType {
            /// The type of id `id`, if it is one of the 13.
            pub fn from_id(id: u32) -> Option<Self> {
                match id {
                    $($id => Some(ValueType::$v),)*
                    _ => None,
                }
            }

            /// Lower-case name (`u32`, `string`, …).
            pub fn name(self) -> &'static str {
                match self {
                    $(ValueType::$v => $name,)*
                }
            }
        }

        /// A metadata array: one element type, stored as a typed vector.
        #[derive(Clone, Debug, PartialEq)]
        pub enum MetadataArray {
            $(#[doc = concat!($name, " elements.")] $v(Vec<$t>),)*
        }

        impl MetadataArray {
            /// The element type.
            pub fn elem_type(&self) -> ValueType {
                match self {
                    $(MetadataArray::$v(_) => ValueType::$v,)*
                }
            }

            /// Number of elements.
            pub fn len(&self) -> usize {
                match self {
                    $(MetadataArray::$v(v) => v.len(),)*
                }
            }
        }

        /// One metadata value.
        #[derive(Clone, Debug, PartialEq)]
        pub enum MetadataValue {
            $(#[doc = concat!($about, ".")] $v($t),)*
        }

        impl MetadataValue {
            /// The value type.
            pub fn value_type(&self) -> ValueType {
                match self {
                    $(MetadataValue::$v(_) => ValueType::$v,)*
                }
            }
        }
    };
}

value_types! {
    U8 = 0, "u8", u8, "u8";
    I8 = 1, "i8", i8, "i8";
    U16 = 2, "u16", u16, "u16";
    I16 = 3, "i16", i16, "i16";
    U32 = 4, "u32", u32, "u32";
    I32 = 5, "i32", i32, "i32";
    F32 = 6, "f32", f32, "f32";
    Bool = 7, "bool", bool, "bool, one byte";
    String = 8, "string", String, "String: u64 length + UTF-8 bytes";
    Array = 9, "array", MetadataArray, "Array: element type, u64 count, elements";
    U64 = 10, "u64", u64, "u64";
    I64 = 11, "i64", i64, "i64";
    F64 = 12, "f64", f64, "f64";
}

impl ValueType {
    /// Smallest encoding of one value of this type, in bytes (guards counts).
    pub fn min_size(self) -> u64 {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 | String => 8,
            Array => 12,
        }
    }
}

impl MetadataArray {
    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Description like `array of 32000 string`.
    pub fn describe(&self) -> String {
        format!("array of {} {}", self.len(), self.elem_type().name())
    }
}

impl MetadataValue {
    /// Description of the type, with the element type for arrays.
    pub fn describe(&self) -> String {
        match self {
            MetadataValue::Array(a) => a.describe(),
            v => v.value_type().name().to_string(),
        }
    }

    /// The value as a signed integer, if it is an integer of any width.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            MetadataValue::U8(v) => v.into(),
            MetadataValue::I8(v) => v.into(),
            MetadataValue::U16(v) => v.into(),
            MetadataValue::I16(v) => v.into(),
            MetadataValue::U32(v) => v.into(),
            MetadataValue::I32(v) => v.into(),
            MetadataValue::U64(v) => v.into(),
            MetadataValue::I64(v) => v.into(),
            _ => return None,
        })
    }
}

impl fmt::Display for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataValue::U8(v) => write!(f, "{v}"),
            MetadataValue::I8(v) => write!(f, "{v}"),
            MetadataValue::U16(v) => write!(f, "{v}"),
            MetadataValue::I16(v) => write!(f, "{v}"),
            MetadataValue::U32(v) => write!(f, "{v}"),
            MetadataValue::I32(v) => write!(f, "{v}"),
            MetadataValue::F32(v) => write!(f, "{v}"),
            MetadataValue::Bool(v) => write!(f, "{v}"),
            MetadataValue::String(v) => write!(f, "{v:?}"),
            MetadataValue::Array(a) => f.write_str(&a.describe()),
            MetadataValue::U64(v) => write!(f, "{v}"),
            MetadataValue::I64(v) => write!(f, "{v}"),
            MetadataValue::F64(v) => write!(f, "{v}"),
        }
    }
}
