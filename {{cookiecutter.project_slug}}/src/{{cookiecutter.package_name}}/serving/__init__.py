"""Serving: the prediction core and its REST, gRPC and batch front ends."""
