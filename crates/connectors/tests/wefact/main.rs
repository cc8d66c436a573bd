//! WeFact connector and outbound webhook connector against their simulators.
