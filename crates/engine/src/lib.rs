//! crosswalk-engine
