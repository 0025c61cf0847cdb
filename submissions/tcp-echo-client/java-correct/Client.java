// TCP echo client in Java: a thread copies the server's bytes to stdout while main
// sends stdin, then shutdownOutput() (half-close) and waits for the server to close.
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

public class Client {
    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: java Client HOST PORT");
            System.exit(2);
        }
        Socket socket;
        try {
            socket = new Socket(args[0], Integer.parseInt(args[1]));
        } catch (IOException e) {
            System.err.println("connect: " + e.getMessage());
            System.exit(1);
            return;
        }
        final boolean[] failed = {false};
        Thread reader = new Thread(() -> {
            try (OutputStream out = new FileOutputStream(FileDescriptor.out)) {
                copy(socket.getInputStream(), out);
            } catch (IOException e) {
                System.err.println("receive: " + e.getMessage());
                failed[0] = true;
            }
        });
        reader.start();
        try {
            copy(System.in, socket.getOutputStream());
            socket.shutdownOutput();           // the server sees the end of our data
        } catch (IOException e) {
            System.err.println("send: " + e.getMessage());
            failed[0] = true;
        }
        reader.join();
        try {
            socket.close();
        } catch (IOException e) {
            // closing after the server closed: nothing left to lose
        }
        System.exit(failed[0] ? 1 : 0);
    }

    static void copy(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[65536];
        int n;
        while ((n = in.read(buf)) != -1) {
            out.write(buf, 0, n);
        }
        out.flush();
    }
}
