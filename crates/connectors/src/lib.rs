//! crosswalk-connectors
