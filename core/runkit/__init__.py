"""What runners share: process facts and process groups, GPU slots, following a trial's output."""
