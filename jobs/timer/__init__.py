"""Timer (THUML timer-base-84m) in the torch environment: own implementation, published weights."""
