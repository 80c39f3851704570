using ChatServer;

// ChatServer [--urls http://127.0.0.1:8080] [--Threads N] [--MaxSessions N] [--ContextLength N]
// Serves the model compiled into this executable over OpenAI's chat completions API:
//   dotnet run -c Release --project samples/ChatServer -- --urls http://127.0.0.1:8080
var app = ChatServerApp.Create(args);
app.Run();
