//! The broker's side of building a consumer's filter: a small cache of filters built from
//! request texts, and the `enable_property_filter` switch.
//!
//! What must stay true: SQL92 is refused with Java's SYSTEM_ERROR answer while the switch is
//! off, after the expression was built (Java's order); the cache never holds a failed build
//! and is bounded.

use crate::broker::message_filter::{
    is_sql92_type, is_tag_type, FilterError, MessageFilter, SQL92_TYPE,
};
use crate::broker::services::Broker;
use rocketmq_protocol::code::response_code as resp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Filters built from request texts (pull headers), by (is SQL92, text): a pull consumer sends
/// its expression with every pull. Emptied when it reaches this many entries.
const BUILT_FILTER_CACHE: usize = 256;

type FilterCache = Mutex<HashMap<(bool, String), Arc<MessageFilter>>>;

fn built_filters() -> &'static FilterCache {
    static CACHE: OnceLock<FilterCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl Broker {
    /// The filter of an expression type and text as this broker serves it: built (from a
    /// small cache of recent texts) and refused when SQL92 is off
    /// ([`Broker::allows_filter`]).
    pub fn build_message_filter(
        &self,
        expression_type: Option<&str>,
        expression: &str,
    ) -> Result<Arc<MessageFilter>, FilterError> {
        let key = (!is_tag_type(expression_type), expression.to_string());
        let cached = built_filters()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let filter = match cached {
            Some(f) if f.is_sql92() == is_sql92_type(expression_type) => f,
            _ => {
                let built = Arc::new(MessageFilter::build(expression_type, expression)?);
                let mut cache = built_filters().lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= BUILT_FILTER_CACHE {
                    cache.clear();
                }
                cache.insert(key, built.clone());
                built
            }
        };
        self.allows_filter(&filter)?;
        Ok(filter)
    }

    /// SQL92 only when `enable_property_filter` is on (Java's answer when it is off).
    pub fn allows_filter(&self, filter: &MessageFilter) -> Result<(), FilterError> {
        if filter.is_sql92() && !self.config.enable_property_filter {
            return Err(FilterError {
                code: resp::SYSTEM_ERROR,
                remark: format!(
                    "The broker does not support consumer to filter message by {SQL92_TYPE} \
                     (start it with enable_property_filter on)"
                ),
            });
        }
        Ok(())
    }
}
