//! crosswalk-simulators
