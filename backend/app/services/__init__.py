"""Business logic. Routes and Socket.IO handlers stay thin and call these."""
