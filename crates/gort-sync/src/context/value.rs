//! A [`with_value`](super::with_value) layer: parent, key and value in one
//! allocation, behind one vtable.

use std::any::{type_name, Any};

use super::Context;

pub(super) struct ValueNode<K, V> {
    pub(super) parent: Context,
    pub(super) key: K,
    pub(super) value: V,
}

/// A [`ValueNode`] with its types erased.
pub(super) trait ValueLayer: Send + Sync {
    fn parent(&self) -> &Context;

    /// The value, if `key` has this layer's key type and equals its key.
    fn lookup(&self, key: &dyn Any) -> Option<&dyn Any>;

    /// `Key, Value` type names, for `Debug`.
    fn type_names(&self) -> String;
}

impl<K, V> ValueLayer for ValueNode<K, V>
where
    K: Any + Eq + Send + Sync,
    V: Any + Send + Sync,
{
    fn parent(&self) -> &Context {
        &self.parent
    }

    fn lookup(&self, key: &dyn Any) -> Option<&dyn Any> {
        // As in Go, keys of different types never match.
        key.downcast_ref::<K>()
            .filter(|k| **k == self.key)
            .map(|_| &self.value as &dyn Any)
    }

    fn type_names(&self) -> String {
        format!("{}, {}", type_name::<K>(), type_name::<V>())
    }
}
