"""The full-stack MLE: one app that closes the loop across the other three archetypes.

Not built yet (issue "fullstack_mle" of this round). It may import every other package."""
